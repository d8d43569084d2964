/**
 * The language client: how the server process is started and what passes between VS Code and it.
 *
 * Inline completion is vscode-languageclient's own feature (≥ 10): it sends `textDocument/inlineCompletion`
 * with VS Code's cancellation token, so a request VS Code drops (typing on) is cancelled on the server with
 * `$/cancelRequest`. The middleware only adds the per-language switch, an optional debounce and the
 * `selectedCompletionInfo` range rule.
 */
import * as readline from 'node:readline';
import type { Readable } from 'node:stream';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  type ErrorHandler,
  LanguageClient,
  type LanguageClientOptions,
  LogMessageNotification,
  type MessageTransports,
  type Middleware,
  ResponseError,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { delay } from './core/debounce';
import { type OfferedItem, suggestionRef } from './core/feedback';
import { type InlineItemData, type RangeLike, toInlineItems } from './core/inline';
import { type CommandLine, serverExecutable } from './core/serverCommand';
import type { ProcessExit } from './core/problems';
import { type LogLevelName, messageLevel, StderrLines } from './core/serverLog';
import {
  asksAutomatically,
  type ClientSettings,
  filterConfigurationItem,
  initializationOptions,
  isLanguageEnabled,
  SERVER_LISTS,
  SERVER_SECTIONS,
} from './core/settings';

export const CLIENT_ID = 'infill';
export const STATUS_NOTIFICATION = 'infill/status';

/** What the client needs from the rest of the extension. */
export interface ClientHooks {
  /** The client-only settings as they are now. */
  settings(): ClientSettings;
  /** The server process exited; answers whether the client starts it again. */
  closed(): boolean;
  /** An error the client library would have shown as a notification (it is in the log too). */
  clientError(message: string): void;
  /** The items VS Code was given for `document` (the last answer; their suggestion ids and texts). */
  offered(document: vscode.TextDocument, items: readonly OfferedItem<vscode.Position>[]): void;
}

/** How a server process ended and the last lines it wrote to stderr. */
export interface ServerEnd {
  readonly exit: ProcessExit;
  readonly stderr: readonly string[];
}

/** vscode-languageclient shows its own notifications ("couldn't create connection to server") next to ours;
 * this keeps its messages in the log and hands them to the extension, which shows one with buttons.
 * Once the process has exited, the library's errors (a write to the closed pipe, a failed stop) only follow
 * from that: they go to the log at debug level, and the extension says how the process ended (`ended`). */
export class InfillLanguageClient extends LanguageClient {
  /** Whether the current server process has exited. */
  private gone = false;
  /** Resolves when the current process has ended and its output has been read. */
  private end: Promise<ServerEnd> | undefined;

  constructor(
    serverOptions: ServerOptions,
    clientOptions: LanguageClientOptions,
    private readonly hooks: ClientHooks,
    private readonly log: ServerLog,
  ) {
    super(CLIENT_ID, 'infill', serverOptions, clientOptions);
  }

  protected override async createMessageTransports(encoding: string): Promise<MessageTransports> {
    this.gone = false;
    this.end = undefined;
    const transports = await super.createMessageTransports(encoding);
    const child = this.serverProcess;
    if (child !== undefined) {
      const gone = (): void => {
        this.gone = true;
      };
      child.once('exit', gone);
      // The server's output can end before 'exit' is emitted; the library's errors that follow (the connection
      // closed, a pending request rejected, a stop refused) come after these listeners, asynchronously.
      child.stdout?.once('end', gone);
      child.stdout?.once('close', gone);
      this.end = new Promise((resolve) => {
        child.once('close', (code: number | null, signal: string | null) => {
          resolve({ exit: { code, signal }, stderr: this.log.lastStderr() });
        });
      });
    }
    return transports;
  }

  /** How the current process ended, once it has (within `waitMs`); undefined if it has not or never started. */
  async ended(waitMs: number): Promise<ServerEnd | undefined> {
    const end = this.end;
    if (end === undefined) {
      return undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        resolve(undefined);
      }, waitMs);
    });
    try {
      return await Promise.race([end, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  override error(message: string, data?: unknown, showNotification: boolean | 'force' = true): void {
    if (this.gone || message.startsWith('Server process exited')) {
      this.debug(message, data instanceof Error ? data.message : data, false);
      return;
    }
    super.error(message, data, false);
    if (showNotification !== false) {
      this.hooks.clientError(message);
    }
  }
}

function wanted(document: vscode.TextDocument, settings: ClientSettings): boolean {
  return settings.completionEnabled && isLanguageEnabled(settings.enable, document.languageId);
}

function asRange(range: RangeLike): vscode.Range {
  return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

function asVscodeItem(data: InlineItemData<vscode.InlineCompletionItem>): vscode.InlineCompletionItem {
  const text = data.snippet ? new vscode.SnippetString(data.insertText) : data.insertText;
  // The command is the server's `infill.accepted` (vscode-languageclient registered it from the server's
  // executeCommandProvider): VS Code runs it when the whole item is accepted, and the server counts it.
  const item = new vscode.InlineCompletionItem(text, asRange(data.range), data.source.command);
  if (data.filterText !== undefined) {
    item.filterText = data.filterText;
  }
  return item;
}

/**
 * VS Code can cancel an inline request and not ask again: after `x = [1, 2, 3]⏎for i in`, quick suggestions
 * (which run on word characters) cancel the pending request, and no ghost text comes until "Trigger Inline
 * Suggestion" (issue 11, defect 2). When a request is cancelled while no newer one started and the document and
 * cursor are as they were, this asks again, once for that place.
 */
class AskAgain {
  private started = 0;
  private askedFor = '';

  /** Call when a request starts; returns its number. */
  start(): number {
    this.started += 1;
    return this.started;
  }

  cancelled(request: number, document: vscode.TextDocument, position: vscode.Position): void {
    const version = document.version;
    const place = `${document.uri.toString()}@${String(version)}:${String(position.line)}:${String(position.character)}`;
    setTimeout(() => {
      const editor = vscode.window.activeTextEditor;
      const idle = request === this.started && editor?.document === document && document.version === version
        && editor.selection.isEmpty && editor.selection.active.isEqual(position);
      if (idle && this.askedFor !== place) {
        this.askedFor = place;
        void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      }
    }, 100);
  }
}

function middleware(hooks: ClientHooks): Middleware {
  const askAgain = new AskAgain();
  return {
    async provideInlineCompletionItems(document, position, context, token, next) {
      const settings = hooks.settings();
      if (!wanted(document, settings)) {
        return [];
      }
      // A manual language (infill.completion.trigger, triggerLanguages): only the trigger key asks. The server
      // would answer an automatic request there with no item; not sending it spares the round trip.
      if (context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic && !asksAutomatically(settings, document.languageId)) {
        return [];
      }
      const request = askAgain.start();
      // Off by default: the server already waits infill.completion.debounceMs and drops superseded requests.
      if (!(await delay(settings.debounceMs, token))) {
        return [];
      }
      const result = await next(document, position, context, token);
      if (token.isCancellationRequested) {
        askAgain.cancelled(request, document, position);
        return [];
      }
      if (result === null || result === undefined) {
        return [];
      }
      const items = toInlineItems(result, position, context.selectedCompletionInfo, (range) => document.getText(asRange(range)));
      hooks.offered(document, items.flatMap((data) => {
        const ref = suggestionRef(data.source.command);
        return ref === undefined ? [] : [{ id: ref.id, text: data.insertText, start: asRange(data.range).start }];
      }));
      return items.map(asVscodeItem);
    },
    provideCompletionItem(document, position, context, token, next) {
      return wanted(document, hooks.settings()) ? next(document, position, context, token) : undefined;
    },
    workspace: {
      // The server asks for the section `infill`; it gets `model`, `completion` and `engine` only.
      async configuration(params, token, next) {
        const result = await next(params, token);
        if (result instanceof ResponseError) {
          return result;
        }
        return result.map((value: unknown, index) => filterConfigurationItem(params.items[index]?.section, value));
      },
    },
  };
}

function write(channel: vscode.LogOutputChannel, level: LogLevelName, text: string): void {
  switch (level) {
    case 'error':
      channel.error(text);
      return;
    case 'warn':
      channel.warn(text);
      return;
    case 'info':
      channel.info(text);
      return;
    case 'debug':
      channel.debug(text);
      return;
  }
}

function eachLine(input: Readable, handle: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on('line', handle);
}

/** The server's log: window/logMessage, and each stderr line once, at its level (see core/serverLog). */
class ServerLog {
  /** The current process's stderr. */
  private stderr = new StderrLines();

  readonly stdio = {
    stdout: (input: Readable, channel: vscode.LogOutputChannel) => {
      eachLine(input, (line) => {
        channel.info(line);
      });
    },
    stderr: (input: Readable, channel: vscode.LogOutputChannel) => {
      const stderr = new StderrLines();
      this.stderr = stderr;
      eachLine(input, (line) => {
        const level = stderr.level(line);
        if (level !== undefined) {
          write(channel, level, line);
        }
      });
    },
  };

  constructor(private readonly channel: vscode.LogOutputChannel) {}

  message(type: number, text: string): void {
    write(this.channel, messageLevel(type), text);
  }

  /** The last lines the current process wrote to stderr. */
  lastStderr(): string[] {
    return this.stderr.last();
  }
}

function errorHandler(hooks: ClientHooks): ErrorHandler {
  return {
    // Keep going on a few write/read errors: a process that died is reported by `closed` or by the failed
    // start, and stopping a client that is still starting only fails.
    error: (_error, _message, count) => ({
      action: count === undefined || count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
      handled: true,
    }),
    closed: () => {
      return { action: hooks.closed() ? CloseAction.Restart : CloseAction.DoNotRestart, handled: true };
    },
  };
}

/** A client (not started) that runs `command` over stdio. */
export function createClient(
  command: CommandLine,
  cwd: string | undefined,
  output: vscode.LogOutputChannel,
  hooks: ClientHooks,
): InfillLanguageClient {
  const serverOptions: ServerOptions = serverExecutable(command, cwd, process.env);
  const log = new ServerLog(output);
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    initializationOptions: () => initializationOptions(vscode.workspace.getConfiguration('infill')),
    // Pushes {"infill": {"model": …, "completion": …, "engine": …, "context": …, "stats": …, "exclude": […]}} now and whenever
    // one of them changes.
    synchronize: { configurationSection: [...SERVER_SECTIONS, ...SERVER_LISTS].map((section) => `infill.${section}`) },
    outputChannel: output,
    stdioOptions: log.stdio,
    // The process exiting during initialize is reported by the extension (Controller.start), once.
    initializationFailedHandler: () => false,
    middleware: middleware(hooks),
    errorHandler: errorHandler(hooks),
  };
  const client = new InfillLanguageClient(serverOptions, clientOptions, hooks, log);
  // Replaces the library's own window/logMessage handler (the handler registered last wins).
  client.onNotification(LogMessageNotification.type, (params) => {
    log.message(params.type, params.message);
  });
  return client;
}
