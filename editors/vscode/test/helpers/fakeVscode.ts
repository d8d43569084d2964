/**
 * A stand-in for the `vscode` module, enough for the extension and vscode-languageclient to activate, start
 * the real server and serve inline completions outside VS Code (which cannot run here).
 *
 * What the tests look at is real (classes, events, configuration, the status bar item, messages, commands,
 * the registered inline provider); every other API is a no-op that returns a disposable.
 */
import * as path from 'node:path';
import { isPlainObject, type JsonObject } from '../../src/core/settings';

type Listener<T> = (value: T) => void;

export class Disposable {
  constructor(private readonly callOnDispose: () => void = () => undefined) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => {
      for (const item of items) {
        item.dispose();
      }
    });
  }
  dispose(): void {
    this.callOnDispose();
  }
}

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    });
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      listener(value);
    }
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<undefined>();
  readonly token = {
    isCancellationRequested: false,
    onCancellationRequested: this.emitter.event,
  };
  cancel(): void {
    if (!this.token.isCancellationRequested) {
      this.token.isCancellationRequested = true;
      this.emitter.fire(undefined);
    }
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export class CancellationError extends Error {}

export class Position {
  constructor(readonly line: number, readonly character: number) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
    this.start = typeof a === 'number' ? new Position(a, b as number) : a;
    this.end = typeof a === 'number' ? new Position(c ?? 0, d ?? 0) : (b as Position);
  }
}

export class Uri {
  private constructor(readonly scheme: string, readonly fsPath: string) {}
  static file(p: string): Uri {
    return new Uri('file', p);
  }
  static parse(value: string): Uri {
    return value.startsWith('file://') ? new Uri('file', decodeURIComponent(value.slice('file://'.length))) : new Uri(value.split(':')[0] ?? '', value);
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return new Uri(base.scheme, path.join(base.fsPath, ...parts));
  }
  get path(): string {
    return this.fsPath;
  }
  toString(): string {
    return this.scheme === 'file' ? `file://${this.fsPath}` : this.fsPath;
  }
  toJSON(): string {
    return this.toString();
  }
}

/** `ExtensionContext.globalState`: kept across activations as long as the test keeps the object. */
export class Memento {
  private readonly values = new Map<string, unknown>();
  keys(): readonly string[] {
    return [...this.values.keys()];
  }
  get<T>(key: string, fallback?: T): T | undefined {
    return this.values.has(key) ? (this.values.get(key) as T) : fallback;
  }
  update(key: string, value: unknown): Promise<void> {
    this.values.set(key, value);
    return Promise.resolve();
  }
}

export class SnippetString {
  constructor(readonly value = '') {}
}

export class InlineCompletionItem {
  filterText?: string;
  constructor(readonly insertText: string | SnippetString, readonly range?: Range, readonly command?: unknown) {}
}

export class InlineCompletionList {
  constructor(readonly items: InlineCompletionItem[]) {}
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

/** A class for every other constructor the client library subclasses or creates. */
class Anything {
  readonly fake = true;
}

export const InlineCompletionTriggerKind = { Invoke: 0, Automatic: 1 } as const;
export const StatusBarAlignment = { Left: 1, Right: 2 } as const;
export const ConfigurationTarget = { Global: 1, Workspace: 2, WorkspaceFolder: 3 } as const;
export const LogLevel = { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 } as const;

/** Enums the client library reads that the tests never look at. */
const ENUMS = new Set([
  'CodeActionKind', 'CodeActionTriggerKind', 'CompletionItemKind', 'CompletionItemTag', 'CompletionTriggerKind',
  'DiagnosticSeverity', 'DiagnosticTag', 'DocumentHighlightKind', 'FileType', 'FoldingRangeKind', 'NotebookCellKind',
  'ProgressLocation', 'SignatureHelpTriggerKind', 'SymbolKind', 'SymbolTag', 'TextDocumentSaveReason',
]);

/** An enum whose members are all 0 (for enums the tests never look at). */
const anyEnum = new Proxy({}, { get: () => 0 });

/** A namespace whose functions do nothing and return a disposable; events are functions too. */
function noopNamespace(known: object): object {
  return new Proxy(known, {
    get: (target, name) => (name in target ? (target as Record<string | symbol, unknown>)[name] : () => new Disposable()),
  });
}

export interface FakeDocument {
  readonly uri: Uri;
  readonly languageId: string;
  readonly version: number;
  readonly isClosed: boolean;
  readonly isUntitled: boolean;
  readonly fileName: string;
  getText(range?: Range): string;
}

/** A text document that never changes. */
export function document(file: string, languageId: string, text: string): FakeDocument {
  const lines = text.split('\n');
  const offset = (p: Position): number =>
    lines.slice(0, p.line).reduce((sum, line) => sum + line.length + 1, 0) + Math.min(p.character, (lines[p.line] ?? '').length);
  return {
    uri: Uri.file(file),
    languageId,
    version: 1,
    isClosed: false,
    isUntitled: false,
    fileName: file,
    getText: (range?: Range) => (range === undefined ? text : text.slice(offset(range.start), offset(range.end))),
  };
}

/** The part of `vscode.Pseudoterminal` the extension implements. */
interface FakePty {
  onDidWrite(listener: (text: string) => void): Disposable;
  open(dimensions: undefined): void;
  close(): void;
}

export interface DocumentFilterLike {
  readonly scheme?: string;
  readonly language?: string;
}

/** The recorded state the tests read and drive. */
export const fake = {
  /** The `infill` section, as VS Code would return it. */
  section: {} as JsonObject,
  /** Keys written with `update` (e.g. by Toggle Completions), as "key=value@target". */
  updates: [] as string[],
  /** The status bar item; `command` is what clicking it runs. */
  statusBar: { text: '', tooltip: '', command: '' as unknown, changes: new EventEmitter<string>() },
  /** Quick picks shown, by their item labels. */
  quickPicks: [] as string[][],
  /** The label a person picks in a quick pick (undefined: it is dismissed); by default the first. */
  pick: ((labels: string[]) => labels[0]) as (labels: string[]) => string | undefined,
  messages: [] as { level: string; message: string; items: string[] }[],
  onMessage: new EventEmitter<string>(),
  /** The button a person clicks on a notification (undefined: it is dismissed). */
  answer: undefined as ((message: string, items: string[]) => string | undefined) | undefined,
  /** `vscode.env.remoteName`: set for a window connected to a remote (SSH, WSL, a container, code-server). */
  remoteName: undefined as string | undefined,
  /** Lines written to the output channel (the client's log and, at trace level, every LSP message). */
  log: [] as string[],
  onLog: new EventEmitter<string>(),
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as string[],
  /** Every executed command with its arguments. */
  calls: [] as { id: string; args: unknown[] }[],
  onExecute: new EventEmitter<string>(),
  inlineProviders: [] as { selector: unknown; provider: Record<string, unknown> }[],
  textDocuments: [] as FakeDocument[],
  /** What pseudoterminals wrote, by terminal name. */
  terminals: new Map<string, string>(),
  didChangeConfiguration: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
  /** Progress notifications: "title: message" for each report, "title" when one begins. */
  progress: [] as string[],
  /** Cancels the progress notification shown last (its "Cancel" button). */
  cancelProgress: (() => undefined) as () => void,
  onProgress: new EventEmitter<string>(),
};

function lookup(key: string): unknown {
  let node: unknown = fake.section;
  for (const part of key.split('.')) {
    node = isPlainObject(node) ? node[part] : undefined;
  }
  return node;
}

function configuration(section?: string): object {
  const prefix = section === undefined || section === '' ? '' : `${section}.`;
  const full = (key: string): string => `${prefix}${key}`;
  const read = (key: string): unknown => (full(key).startsWith('infill.') ? lookup(full(key).slice('infill.'.length)) : full(key) === 'infill' ? fake.section : undefined);
  return {
    get: (key: string, fallback?: unknown) => read(key) ?? fallback,
    has: (key: string) => read(key) !== undefined,
    inspect: (key: string) => ({ key: full(key), globalValue: read(key) }),
    update: (key: string, value: unknown, target: number) => {
      const parts = full(key).split('.').slice(1);
      let node: JsonObject = fake.section;
      for (const part of parts.slice(0, -1)) {
        const next = node[part];
        if (!isPlainObject(next)) {
          return Promise.reject(new Error(`no setting ${full(key)}`));
        }
        node = next;
      }
      node[parts[parts.length - 1] ?? ''] = value as JsonObject[string];
      fake.updates.push(`${full(key)}=${JSON.stringify(value)}@${String(target)}`);
      const changed = full(key);
      fake.didChangeConfiguration.fire({ affectsConfiguration: (s: string) => changed === s || changed.startsWith(`${s}.`) });
      return Promise.resolve();
    },
  };
}

function message(level: string) {
  return (text: string, ...items: unknown[]): Promise<string | undefined> => {
    const buttons = items.filter((i): i is string => typeof i === 'string');
    fake.messages.push({ level, message: text, items: buttons });
    fake.onMessage.fire(text);
    return Promise.resolve(fake.answer?.(text, buttons));
  };
}

function outputChannel(name: string): object {
  const write = (level: string) => (text: string) => {
    fake.log.push(`[${level}] ${text}`);
    fake.onLog.fire(text);
  };
  return {
    name,
    logLevel: LogLevel.Trace,
    onDidChangeLogLevel: () => new Disposable(),
    trace: write('trace'),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    append: write('out'),
    appendLine: write('out'),
    replace: write('out'),
    clear: () => undefined,
    show: () => undefined,
    hide: () => undefined,
    dispose: () => undefined,
  };
}

function statusBarItem(): object {
  return {
    set text(value: string) {
      fake.statusBar.text = value;
      fake.statusBar.changes.fire(value);
    },
    get text() {
      return fake.statusBar.text;
    },
    set tooltip(value: string) {
      fake.statusBar.tooltip = value;
      fake.statusBar.changes.fire(value);
    },
    get tooltip() {
      return fake.statusBar.tooltip;
    },
    name: '',
    set command(value: unknown) {
      fake.statusBar.command = value;
    },
    get command() {
      return fake.statusBar.command;
    },
    backgroundColor: undefined,
    show: () => undefined,
    hide: () => undefined,
    dispose: () => undefined,
  };
}

function matches(selector: unknown, doc: FakeDocument): number {
  const filters = (Array.isArray(selector) ? selector : [selector]) as (DocumentFilterLike | string)[];
  return filters.some((f) =>
    typeof f === 'string'
      ? f === doc.languageId
      : (f.scheme === undefined || f.scheme === doc.uri.scheme) && (f.language === undefined || f.language === doc.languageId),
  )
    ? 10
    : 0;
}

const api = {
  // Makes TypeScript's `__importStar` hand out the proxy itself, so names not listed here resolve too.
  __esModule: true,
  version: '1.91.0',
  Disposable,
  EventEmitter,
  CancellationTokenSource,
  CancellationError,
  Position,
  Range,
  Uri,
  SnippetString,
  InlineCompletionItem,
  InlineCompletionList,
  ThemeColor,
  InlineCompletionTriggerKind,
  StatusBarAlignment,
  ConfigurationTarget,
  LogLevel,
  env: {
    appName: 'Visual Studio Code',
    language: 'en',
    openExternal: () => Promise.resolve(true),
    get remoteName() {
      return fake.remoteName;
    },
  },
  workspace: noopNamespace({
    get textDocuments() {
      return fake.textDocuments;
    },
    notebookDocuments: [],
    workspaceFolders: undefined,
    getConfiguration: configuration,
    onDidChangeConfiguration: fake.didChangeConfiguration.event,
  }),
  window: noopNamespace({
    activeTextEditor: undefined,
    visibleTextEditors: [],
    tabGroups: { all: [], onDidChangeTabs: () => new Disposable() },
    createOutputChannel: outputChannel,
    withProgress: (options: { title?: string }, task: (progress: { report(value: { message?: string }): void }, token: unknown) => unknown) => {
      const title = options.title ?? '';
      const record = (line: string): void => {
        fake.progress.push(line);
        fake.onProgress.fire(line);
      };
      const source = new CancellationTokenSource();
      fake.cancelProgress = () => {
        source.cancel();
      };
      record(title);
      return task({ report: (value) => { record(`${title}: ${value.message ?? ''}`); } }, source.token);
    },
    createStatusBarItem: statusBarItem,
    createTerminal: (options: { name: string; pty: FakePty }) => {
      fake.terminals.set(options.name, '');
      options.pty.onDidWrite((text) => {
        fake.terminals.set(options.name, (fake.terminals.get(options.name) ?? '') + text);
      });
      setImmediate(() => {
        options.pty.open(undefined);
      });
      return {
        name: options.name,
        show: () => undefined,
        dispose: () => {
          options.pty.close();
        },
      };
    },
    showQuickPick: <T extends { label: string }>(items: T[]) => {
      const labels = items.map((item) => item.label);
      fake.quickPicks.push(labels);
      const chosen = fake.pick(labels);
      return Promise.resolve(items.find((item) => item.label === chosen));
    },
    showErrorMessage: message('error'),
    showWarningMessage: message('warning'),
    showInformationMessage: message('info'),
  }),
  languages: noopNamespace({
    match: matches,
    registerInlineCompletionItemProvider: (selector: unknown, provider: Record<string, unknown>) => {
      fake.inlineProviders.push({ selector, provider });
      return new Disposable(() => {
        fake.inlineProviders = fake.inlineProviders.filter((p) => p.provider !== provider);
      });
    },
  }),
  commands: noopNamespace({
    registerCommand: (id: string, run: (...args: unknown[]) => unknown) => {
      fake.commands.set(id, run);
      return new Disposable(() => fake.commands.delete(id));
    },
    executeCommand: (id: string, ...args: unknown[]) => {
      fake.executed.push(id);
      fake.calls.push({ id, args });
      fake.onExecute.fire(id);
      return Promise.resolve(undefined);
    },
  }),
};

/** The module: known names above, a class for any other capitalised name, an all-zero enum otherwise. */
export const vscodeModule = new Proxy(api, {
  get: (target, name) => {
    if (name in target) {
      return (target as Record<string | symbol, unknown>)[name];
    }
    if (typeof name === 'string' && /^[A-Z]/.test(name)) {
      return ENUMS.has(name) ? anyEnum : Anything;
    }
    return undefined;
  },
});
