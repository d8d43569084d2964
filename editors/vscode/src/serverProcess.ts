/**
 * The server process: starts, stops and restarts the language client that runs it, starts a process that
 * exited again (within the restart budget of core/restarts.ts), and keeps its phase and its last
 * `infill/status`. What it sees goes to its `ServerEvents` (the controller), which shows it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import { type ShowMessageParams, ShowMessageNotification, State } from 'vscode-languageclient/node';
import { createClient, type InfillLanguageClient, STATUS_NOTIFICATION } from './client';
import type { OfferedItem } from './core/feedback';
import type { Problem } from './core/problems';
import { RestartBudget } from './core/restarts';
import { findExecutable, formatCommand, type PathVariables, type ResolvedCommand } from './core/serverCommand';
import { type ClientSettings, isPlainObject } from './core/settings';
import { type ClientView, parseStatus, type StatusPayload } from './core/status';

/** How long to wait for a failed server process to end, so that the message can say how it ended. */
const EXIT_WAIT_MS = 2000;

function isExecutable(path: string): boolean {
  try {
    if (!fs.statSync(path).isFile()) {
      return false;
    }
    if (process.platform !== 'win32') {
      fs.accessSync(path, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

/** What `~`, `${userHome}` and `${workspaceFolder}` stand for in a server command. */
export function pathVariables(): PathVariables {
  return { home: os.homedir(), workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath };
}

/** The command with its program resolved to a file, or the problem that stops it from running. */
export function locate(command: ResolvedCommand): ResolvedCommand | Problem {
  const found = findExecutable(command.command, process.env, process.platform, isExecutable);
  if (found !== undefined) {
    return { ...command, command: found };
  }
  if (command.source === 'pythonPath') {
    return { kind: 'pythonNotFound', pythonPath: command.command };
  }
  return { kind: 'commandNotFound', command: command.command, configured: command.source === 'command' };
}

/** What the server process tells its owner. */
export interface ServerEvents {
  /** A start begins: what was said about the previous process no longer holds. */
  starting(): void;
  /** The phase changed: render again. */
  changed(): void;
  /** A server process got through `initialize` and runs (after a start or a restart of the process). */
  running(): void;
  /** The server is not running because of `problem` (the phase is `stopped`). */
  failed(problem: Problem): void;
  /** The current process sent an `infill/status` (now `status`). */
  status(status: StatusPayload): void;
  /** The current process sent a `window/showMessage`. */
  message(params: ShowMessageParams): void;
  /** The client library met an error while the server was running. */
  clientError(message: string): void;
  /** VS Code was given `items` for `document` (the inline middleware's answer). */
  offered(document: vscode.TextDocument, items: readonly OfferedItem<vscode.Position>[]): void;
}

export class ServerProcess {
  /** The running (or starting) client; undefined while stopped. */
  private client: InfillLanguageClient | undefined;
  /** The last `infill/status` of the current server process. */
  private lastStatus: StatusPayload | undefined;
  private currentPhase: ClientView['phase'] = 'stopped';
  /** Whether the current process got through `initialize` (a process that never did is not restarted). */
  private wasRunning = false;
  /** Counts `stop()` calls: a failure found after a stop (a restart, the window closing) is not reported. */
  private stops = 0;
  private readonly restarts = new RestartBudget();

  constructor(
    private readonly output: vscode.LogOutputChannel,
    /** The client-only settings as they are now. */
    private readonly settings: () => ClientSettings,
    /** The command that serves, as the settings say now (it may upgrade the installed server first). */
    private readonly command: () => Promise<ResolvedCommand>,
    private readonly events: ServerEvents,
  ) {}

  get phase(): ClientView['phase'] {
    return this.currentPhase;
  }

  /** The last `infill/status` of the current server process. */
  get status(): StatusPayload | undefined {
    return this.lastStatus;
  }

  /** Whether a process is running or starting. */
  get running(): boolean {
    return this.client !== undefined;
  }

  async start(): Promise<void> {
    const command = await this.command();
    if (this.client !== undefined) {
      return;
    }
    this.lastStatus = undefined;
    this.wasRunning = false;
    this.events.starting();
    const located = locate(command);
    if ('kind' in located) {
      this.fail(located);
      return;
    }
    const line = formatCommand(located);
    this.output.info(`starting ${line}`);
    const client = createClient(located, pathVariables().workspaceFolder, this.output, {
      settings: this.settings,
      closed: () => this.onClosed(client, line),
      clientError: (message) => {
        if (this.client === client && this.currentPhase === 'running') {
          this.events.clientError(message);
        }
      },
      offered: (document, items) => {
        this.events.offered(document, items);
      },
    });
    this.client = client;
    client.onNotification(STATUS_NOTIFICATION, (raw: unknown) => {
      if (this.client === client) {
        this.onStatus(raw);
      }
    });
    // Replaces the client library's own window/showMessage handler (the handler registered last wins), so
    // that a failed load is shown once, with buttons, and setting warnings get "Open Settings".
    client.onNotification(ShowMessageNotification.type, (params) => {
      if (this.client === client) {
        this.events.message(params);
      }
    });
    client.onDidChangeState(({ newState }) => {
      if (this.client !== client) {
        return;
      }
      if (newState === State.Running) {
        this.wasRunning = true;
        this.currentPhase = 'running';
      } else if (newState === State.Starting) {
        this.currentPhase = 'starting';
      }
      this.events.changed();
      if (newState === State.Running) {
        this.events.running();
      }
    });
    this.currentPhase = 'starting';
    this.events.changed();
    try {
      await client.start();
    } catch (error) {
      if (this.client === client) {
        this.client = undefined;
        const detail = error instanceof Error ? error.message : String(error);
        const stops = this.stops;
        const end = await client.ended(EXIT_WAIT_MS);
        if (this.stops === stops) {  // not stopped meanwhile (a restart, or the window closing)
          this.fail({ kind: 'serverExited', command: line, detail, ...end });
        }
      }
    }
  }

  /** The process exited: restart it (answer true) or report it. */
  private onClosed(client: InfillLanguageClient, line: string): boolean {
    if (this.client !== client) {
      return false;
    }
    const restart = this.restarts.allow(Date.now(), this.wasRunning);
    this.lastStatus = undefined;
    this.wasRunning = false;
    if (restart) {
      this.output.warn('the server exited; starting it again');
      this.currentPhase = 'starting';
      this.events.changed();
    } else {
      this.client = undefined;
      this.currentPhase = 'stopped';
      const stops = this.stops;
      void client.ended(EXIT_WAIT_MS).then((end) => {
        if (this.client === undefined && this.stops === stops) {
          this.fail({ kind: 'serverExited', command: line, ...end });
        }
      });
    }
    return restart;
  }

  /** The server is not running because of `problem`. */
  private fail(problem: Problem): void {
    this.currentPhase = 'stopped';
    this.events.failed(problem);
  }

  private onStatus(raw: unknown): void {
    // One line per status at debug level: what the server reported, e.g. `last.evaluatedTokens` and `warm`; its
    // `message` is left out (the server logs it as a record of its own, which the log shows once).
    this.output.debug(`${STATUS_NOTIFICATION} ${JSON.stringify(isPlainObject(raw) ? { ...raw, message: undefined } : raw)}`);
    const status = parseStatus(raw);
    if (status === undefined) {
      this.output.warn(`ignored an infill/status without a valid state: ${JSON.stringify(raw)}`);
      return;
    }
    this.lastStatus = status;
    this.events.status(status);
  }

  /** Sends a notification to the running server; nothing while none runs (a new one is told at its start). */
  notify(method: string, params: object): void {
    const client = this.client;
    if (!client?.isRunning()) {
      return;
    }
    client.sendNotification(method, params).catch((error: unknown) => {
      this.output.debug(`${method} not sent: ${String(error)}`);
    });
  }

  /** Sends a request to the running server; rejects while none runs. */
  async request(method: string, params: object): Promise<unknown> {
    const client = this.client;
    if (!client?.isRunning()) {
      throw new Error('the server is not running');
    }
    return client.sendRequest(method, params);
  }

  async stop(): Promise<void> {
    this.stops += 1;
    const client = this.client;
    this.client = undefined;
    this.lastStatus = undefined;
    this.currentPhase = 'stopped';
    if (client !== undefined) {
      try {
        await client.dispose(2000);
      } catch (error) {
        this.output.warn(`stopping the server: ${String(error)}`);
      }
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
