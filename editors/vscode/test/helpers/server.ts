/**
 * Runs the real Python server over stdio with the libraries VS Code's client uses (vscode-jsonrpc and
 * vscode-languageserver-protocol), answering its requests the way the extension does.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type ClientCapabilities,
  ConfigurationRequest,
  createProtocolConnection,
  type InitializeResult,
  InitializeRequest,
  InitializedNotification,
  LogMessageNotification,
  type LogMessageParams,
  type Message,
  type ProtocolConnection,
  RegistrationRequest,
  ShowMessageNotification,
  type ShowMessageParams,
  ShowMessageRequest,
  StreamMessageReader,
  StreamMessageWriter,
  WorkDoneProgressCreateRequest,
  ShutdownRequest,
  ExitNotification,
} from 'vscode-languageserver-protocol/node';
import { type CommandLine, serveCommand, serverExecutable } from '../../src/core/serverCommand';
import { filterConfigurationItem, initializationOptions, isPlainObject, type JsonObject, objectReader } from '../../src/core/settings';
import { parseStatus, type StatusPayload } from '../../src/core/status';
import { REPO_ROOT } from './manifest';

/**
 * The servers the tests start count acceptance statistics (issue 25) in `$XDG_STATE_HOME/infill-ls`: a temp dir of
 * this test process, never the user's own state folder (a test that reads them sets its own).
 */
export const TEST_STATE_HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-vscode-state-'));
process.env.XDG_STATE_HOME ??= TEST_STATE_HOME;
process.on('exit', () => {
  fs.rmSync(TEST_STATE_HOME, { recursive: true, force: true });
});

/** The interpreter that has infill_ls: $INFILL_PYTHON, else the repository's .venv. */
export function pythonPath(): string {
  return process.env.INFILL_PYTHON ?? path.join(REPO_ROOT, '.venv', 'bin', 'python');
}

/** Builds the tiny random-weight GGUF model of tests/fixtures/tinymodel.py into `dir` (`fim: false`: one
 * without FIM tokens, named tiny-nofim.gguf). */
export function buildTinyModel(dir: string, { fim = true }: { fim?: boolean } = {}): string {
  const out = path.join(dir, fim ? 'tiny.gguf' : 'tiny-nofim.gguf');
  const fixtures = path.join(REPO_ROOT, 'tests', 'fixtures');
  const python = pythonPath();
  if (!fs.existsSync(python)) {
    throw new Error(`no Python at ${python}: set INFILL_PYTHON or create ${path.join(REPO_ROOT, '.venv')}`);
  }
  const script = 'import sys; sys.path.insert(0, sys.argv[1]); from tinymodel import write_tiny_model; ' +
    'write_tiny_model(sys.argv[2], fim_tokens=sys.argv[3] == "1")';
  execFileSync(python, ['-c', script, fixtures, out, fim ? '1' : '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

/** Capabilities as vscode-languageclient 11 announces them, for the parts this server looks at. */
export const VSCODE_CAPABILITIES: ClientCapabilities = {
  general: {
    positionEncodings: ['utf-16'],
    markdown: { parser: 'marked', version: '1.1.0' },
    staleRequestSupport: { cancel: true, retryOnContentModified: [] },
  },
  workspace: {
    applyEdit: true,
    configuration: true,
    workspaceFolders: true,
    didChangeConfiguration: { dynamicRegistration: true },
    didChangeWatchedFiles: { dynamicRegistration: true, relativePatternSupport: true },
  },
  textDocument: {
    synchronization: { dynamicRegistration: true, willSave: true, willSaveWaitUntil: true, didSave: true },
    completion: {
      dynamicRegistration: true,
      contextSupport: true,
      insertTextMode: 2,
      completionItem: {
        snippetSupport: true,
        commitCharactersSupport: true,
        documentationFormat: ['markdown', 'plaintext'],
        deprecatedSupport: true,
        preselectSupport: true,
        insertReplaceSupport: true,
        labelDetailsSupport: true,
        resolveSupport: { properties: ['documentation', 'detail', 'additionalTextEdits'] },
        insertTextModeSupport: { valueSet: [1, 2] },
      },
      completionList: { itemDefaults: ['commitCharacters', 'editRange', 'insertTextFormat', 'insertTextMode', 'data'] },
    },
    inlineCompletion: { dynamicRegistration: true },
  },
  window: {
    workDoneProgress: true,
    showMessage: { messageActionItem: { additionalPropertiesSupport: true } },
    showDocument: { support: true },
  },
};

/** What VS Code answers for a dotted `section` of `settings` (null when absent, everything when undefined). */
function lookup(settings: JsonObject, section: string | undefined): unknown {
  if (section === undefined) {
    return settings;
  }
  let node: unknown = settings;
  for (const part of section.split('.')) {
    node = isPlainObject(node) ? node[part] : undefined;
  }
  return node ?? null;
}

/** Records every message written to the server, so a test can see that `$/cancelRequest` went out. */
class RecordingWriter extends StreamMessageWriter {
  readonly sent: Message[] = [];

  override write(message: Message): Promise<void> {
    this.sent.push(message);
    return super.write(message);
  }
}

interface Waiter<T> {
  readonly test: (value: T) => boolean;
  readonly resolve: (value: T) => void;
}

/** Values arriving over time, with "wait until one matches" (no timers: the test runner's timeout applies). */
class Inbox<T> {
  readonly all: T[] = [];
  private waiters: Waiter<T>[] = [];

  push(value: T): void {
    this.all.push(value);
    const ready = this.waiters.filter((w) => w.test(value));
    this.waiters = this.waiters.filter((w) => !w.test(value));
    for (const waiter of ready) {
      waiter.resolve(value);
    }
  }

  /** The first value (already received or still to come) for which `test` holds. */
  next(test: (value: T) => boolean, from = 0): Promise<T> {
    const found = this.all.slice(from).find(test);
    if (found !== undefined) {
      return Promise.resolve(found);
    }
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
}

export class ServerHarness {
  readonly connection: ProtocolConnection;
  readonly statuses = new Inbox<StatusPayload>();
  /** Every `infill/status` payload as it arrived, before parsing. */
  readonly rawStatuses: unknown[] = [];
  readonly shown = new Inbox<ShowMessageParams>();
  readonly logs: LogMessageParams[] = [];
  /** `workspace/configuration` answers given, after the extension's filter. */
  readonly configurationAnswers: unknown[][] = [];
  readonly command: CommandLine;
  private readonly writer: RecordingWriter;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<number | null>;
  private stderrText = '';

  /**
   * Starts the server with the command the extension would run for `infill.server.pythonPath` = $INFILL_PYTHON.
   * `section` is what VS Code would hold for `infill` (client keys included).
   */
  constructor(public section: JsonObject) {
    this.command = serveCommand({ command: [], pythonPath: pythonPath() }, { home: os.homedir() });
    // Spawned as vscode-languageclient spawns an Executable without a transport.
    const executable = serverExecutable(this.command, os.tmpdir(), { ...process.env, HF_HUB_OFFLINE: '1' });
    this.child = spawn(executable.command, executable.args, executable.options);
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderrText += chunk.toString();
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => {
      resolve(code);
    }));
    this.writer = new RecordingWriter(this.child.stdin);
    this.connection = createProtocolConnection(new StreamMessageReader(this.child.stdout), this.writer);
    this.connection.onNotification('infill/status', (raw: unknown) => {
      this.rawStatuses.push(raw);
      const status = parseStatus(raw);
      if (status !== undefined) {
        this.statuses.push(status);
      }
    });
    this.connection.onNotification(ShowMessageNotification.type, (params) => {
      this.shown.push(params);
    });
    this.connection.onNotification(LogMessageNotification.type, (params) => {
      this.logs.push(params);
    });
    this.connection.onRequest(ConfigurationRequest.type, (params) => {
      const answer = params.items.map((item) => filterConfigurationItem(item.section, lookup({ infill: this.section }, item.section)));
      this.configurationAnswers.push(answer);
      return answer;
    });
    this.connection.onRequest(WorkDoneProgressCreateRequest.type, () => undefined);
    this.connection.onRequest(RegistrationRequest.type, () => undefined);
    this.connection.onRequest(ShowMessageRequest.type, () => null);
    this.connection.listen();
  }

  /** Messages written to the server so far. */
  get sent(): readonly Message[] {
    return this.writer.sent;
  }

  /** The server's stderr so far (its log), for failure messages. */
  get stderr(): string {
    return this.stderrText;
  }

  /** `initialize` + `initialized` with the extension's initializationOptions for `section`. */
  async initialize(): Promise<InitializeResult> {
    const result = await this.connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      clientInfo: { name: 'Visual Studio Code', version: '1.91.0' },
      locale: 'en',
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- still a required field of InitializeParams
      rootUri: null,
      workspaceFolders: null,
      capabilities: VSCODE_CAPABILITIES,
      initializationOptions: initializationOptions(objectReader(this.section)),
    });
    await this.connection.sendNotification(InitializedNotification.type, {});
    return result;
  }

  /** The first status with state ready; fails on error with the server's message. */
  async ready(): Promise<StatusPayload> {
    const status = await this.statuses.next((s) => s.state === 'ready' || s.state === 'error');
    if (status.state === 'error') {
      throw new Error(`the server reported an error: ${status.message}\n${this.stderr}`);
    }
    return status;
  }

  /** `shutdown` + `exit`; resolves with the exit code. */
  async stop(): Promise<number | null> {
    try {
      await this.connection.sendRequest(ShutdownRequest.type);
      await this.connection.sendNotification(ExitNotification.type);
    } catch {
      this.child.kill();
    }
    const code = await this.exited;
    this.connection.dispose();
    return code;
  }

  kill(): void {
    this.child.kill();
  }
}
