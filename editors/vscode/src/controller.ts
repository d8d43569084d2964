/**
 * Owns the server's lifecycle and everything that reacts to it: start/stop/restart, the status bar,
 * toggling, and downloading a model; the notifications and their buttons are src/notifications.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import { type ShowMessageParams, ShowMessageNotification, State } from 'vscode-languageclient/node';
import { CLIENT_ID, createClient, type InfillLanguageClient, STATUS_NOTIFICATION } from './client';
import { describeProblem, noFimModel, type Problem, serverMessage } from './core/problems';
import { RestartBudget } from './core/restarts';
import {
  downloadCommand,
  findExecutable,
  formatCommand,
  type PathVariables,
  type ResolvedCommand,
  serveCommand,
} from './core/serverCommand';
import { type ClientSettings, clientSettings, configChange, isLanguageEnabled } from './core/settings';
import { type ClientView, parseStatus, type StatusPayload, statusView } from './core/status';
import { ServerInstaller } from './installer';
import { Notifications } from './notifications';
import type { StatusBar } from './statusBar';
import { runInTerminal } from './terminal';

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

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(CLIENT_ID);
}

function stringSetting(key: string): string {
  const value = config().get<unknown>(key);
  return typeof value === 'string' ? value : '';
}

/** globalState key: the models whose "no FIM tokens" warning was shown (once per model, then the tooltip). */
const NO_FIM_SHOWN = 'infill.noFimWarningShown';

/** How long to wait for a failed server process to end, so that the message can say how it ended. */
const EXIT_WAIT_MS = 2000;

export class Controller implements vscode.Disposable {
  /** The running (or starting) client; undefined while stopped. */
  private client: InfillLanguageClient | undefined;
  /** The last `infill/status` of the current server process. */
  private status: StatusPayload | undefined;
  private phase: ClientView['phase'] = 'stopped';
  /** Why the server is not running, for the status bar tooltip. */
  private failure: string | undefined;
  /** A standing warning about the model, shown in the status tooltip. */
  private warning: string | undefined;
  /** The client-only settings, re-read on every configuration change. */
  private settings: ClientSettings = clientSettings(config());
  /** Whether the current process got through `initialize` (a process that never did is not restarted). */
  private wasRunning = false;
  /** Counts `stop()` calls: a failure found after a stop (a restart, the window closing) is not reported. */
  private stops = 0;
  /** "Install or Repair the Server" is running. */
  private installing = false;
  private readonly restarts = new RestartBudget();
  /** The server error last shown, so the same `state: "error"` sent again shows nothing new. */
  private lastServerError: string | undefined;
  /** The notifications with buttons, and what their buttons do. */
  private readonly notifications: Notifications;
  /** The server the extension installs itself (src/installer.ts). */
  private readonly installer: ServerInstaller;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly bar: StatusBar,
  ) {
    this.notifications = new Notifications(context, output, {
      restart: () => this.restart(),
      downloadModel: () => this.downloadModel(),
      installServer: () => this.installServer(),
    });
    this.installer = new ServerInstaller(context, output, this.notifications);
  }

  /** The installed server's Python when no server is configured (upgraded first if the .vsix brings a new wheel). */
  private async managedPython(): Promise<string | undefined> {
    return this.settings.command.length === 0 && this.settings.pythonPath === '' ? this.installer.python() : undefined;
  }

  /** "infill: Install or Repair the Server", and the "Install" button when no server is found. */
  async installServer(): Promise<void> {
    // A repair replaces the environment the running server may come from: stop it first, start it after.
    const server = { stopped: false };
    this.installing = true;
    this.refresh();
    let installed: boolean;
    try {
      installed = await this.installer.install(async () => {
        if (this.client !== undefined) {
          server.stopped = true;
          await this.stop();
        }
      });
    } finally {
      this.installing = false;
      this.refresh();
    }
    if (!installed) {
      if (server.stopped) {
        await this.start();
      }
      return;
    }
    if (this.settings.command.length > 0 || this.settings.pythonPath !== '') {
      void vscode.window.showInformationMessage('infill: infill.server.command or infill.server.pythonPath is set, so that server is used; clear it to use the installed one.');
    }
    await this.restart();
  }

  private variables(): PathVariables {
    return { home: os.homedir(), workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath };
  }

  /** The command with its program resolved to a file, or the problem that stops it from running. */
  private locate(command: ResolvedCommand): ResolvedCommand | Problem {
    const found = findExecutable(command.command, process.env, process.platform, isExecutable);
    if (found !== undefined) {
      return { ...command, command: found };
    }
    if (command.source === 'pythonPath') {
      return { kind: 'pythonNotFound', pythonPath: command.command };
    }
    return { kind: 'commandNotFound', command: command.command, configured: command.source === 'command' };
  }

  async start(): Promise<void> {
    const managed = await this.managedPython();
    if (this.client !== undefined) {
      return;
    }
    this.status = undefined;
    this.failure = undefined;
    this.warning = undefined;
    this.wasRunning = false;
    this.lastServerError = undefined;
    this.notifications.reset();
    const located = this.locate(serveCommand(this.settings, this.variables(), managed));
    if ('kind' in located) {
      this.stopped(located);
      return;
    }
    const line = formatCommand(located);
    this.output.info(`starting ${line}`);
    const client = createClient(located, this.variables().workspaceFolder, this.output, {
      settings: () => this.settings,
      closed: () => this.onClosed(client, line),
      clientError: (message) => {
        if (this.client === client && this.phase === 'running') {
          this.notifications.show({ kind: 'other', message });
        }
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
        this.onServerMessage(params);
      }
    });
    client.onDidChangeState(({ newState }) => {
      if (this.client !== client) {
        return;
      }
      if (newState === State.Running) {
        this.wasRunning = true;
        this.phase = 'running';
      } else if (newState === State.Starting) {
        this.phase = 'starting';
      }
      this.refresh();
    });
    this.phase = 'starting';
    this.refresh();
    try {
      await client.start();
    } catch (error) {
      if (this.client === client) {
        this.client = undefined;
        const detail = error instanceof Error ? error.message : String(error);
        const stops = this.stops;
        const end = await client.ended(EXIT_WAIT_MS);
        if (this.stops === stops) {  // not stopped meanwhile (a restart, or the window closing)
          this.stopped({ kind: 'serverExited', command: line, detail, ...end });
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
    this.status = undefined;
    this.wasRunning = false;
    if (restart) {
      this.output.warn('the server exited; starting it again');
      this.phase = 'starting';
      this.refresh();
    } else {
      this.client = undefined;
      this.phase = 'stopped';
      const stops = this.stops;
      void client.ended(EXIT_WAIT_MS).then((end) => {
        if (this.client === undefined && this.stops === stops) {
          this.stopped({ kind: 'serverExited', command: line, ...end });
        }
      });
    }
    return restart;
  }

  /** Marks the server as not running because of `problem`, and says so once. */
  private stopped(problem: Problem): void {
    const { message } = describeProblem(problem);
    this.phase = 'stopped';
    this.failure = message;
    this.output.error(message);
    this.notifications.show(problem);
    this.refresh();
  }

  private onStatus(raw: unknown): void {
    const status = parseStatus(raw);
    if (status === undefined) {
      this.output.warn(`ignored an infill/status without a valid state: ${JSON.stringify(raw)}`);
      return;
    }
    this.status = status;
    if (status.state === 'error') {
      if (status.message !== this.lastServerError) {
        this.lastServerError = status.message;
        this.notifications.show(status.engine.kind === 'remote'
          ? { kind: 'engineError', message: status.message, url: status.engine.url }
          : { kind: 'modelError', message: status.message, localPath: stringSetting('model.path') });
      }
    } else {
      this.lastServerError = undefined;
    }
    this.refresh();
  }

  private onServerMessage(params: ShowMessageParams): void {
    const shown = serverMessage(params.type, params.message, this.lastServerError);
    const noFim = noFimModel(params.message);
    if (noFim !== undefined) {
      // Every start says it again: a toast the first time for this model, then the tooltip only.
      this.warning = params.message.replace(/^infill-ls: /, '');
      this.refresh();
      const models = this.context.globalState.get<string[]>(NO_FIM_SHOWN, []);
      if (models.includes(noFim)) {
        this.output.debug(`server: ${params.message}`);
        return;
      }
      void this.context.globalState.update(NO_FIM_SHOWN, [...models, noFim]);
    }
    if (shown === undefined) {
      // The server logged it as a record too (window/logMessage): a trace here, not a second copy.
      this.output.debug(`server: ${params.message}`);
      return;
    }
    this.notifications.once(shown.level, shown.message, shown.actions);
  }

  /** The red status item's click: a quick pick of Restart Server, the last failure's buttons, and Show Log. */
  async fixActions(): Promise<void> {
    await this.notifications.pickFix(this.failure);
  }

  async stop(): Promise<void> {
    this.stops += 1;
    const client = this.client;
    this.client = undefined;
    this.status = undefined;
    this.phase = 'stopped';
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

  /** "infill: Toggle Completions": flips infill.completion.enable where it is set (workspace or user). */
  async toggle(): Promise<void> {
    const inspected = config().inspect<boolean>('completion.enable');
    const target = inspected?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await config().update('completion.enable', !this.settings.completionEnabled, target);
  }

  /** "infill: Download Model": `infill-ls download REPO FILE` in a terminal, then a restart if needed. */
  async downloadModel(): Promise<void> {
    const repo = stringSetting('model.repo');
    const file = stringSetting('model.file');
    const located = this.locate(downloadCommand(this.settings, this.variables(), repo, file, await this.managedPython()));
    if ('kind' in located) {
      this.notifications.reset();
      this.notifications.show(located);
      return;
    }
    const code = await runInTerminal('infill: download model', located, this.variables().workspaceFolder);
    if (code !== 0) {
      return;
    }
    if (stringSetting('model.path') !== '') {
      void vscode.window.showInformationMessage(
        `infill: downloaded ${file}. infill.model.path is set, so the server uses that file; clear it to use the download.`,
      );
      return;
    }
    void vscode.window.showInformationMessage(`infill: downloaded ${file}.`);
    if (this.status?.state !== 'ready' && this.status?.state !== 'loading') {
      await this.restart();
    }
  }

  onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration(CLIENT_ID)) {
      return;
    }
    this.settings = clientSettings(config());
    if (configChange((section) => event.affectsConfiguration(section)) === 'restart') {
      void this.restart();
    }
    this.refresh();
  }

  /** Renders the status bar for the current state and active editor. */
  refresh(): void {
    const document = vscode.window.activeTextEditor?.document;
    const languageId = document?.languageId;
    this.bar.render(
      statusView(this.status, {
        phase: this.phase,
        installing: this.installing,
        failure: this.failure,
        completionEnabled: this.settings.completionEnabled,
        warning: this.warning,
        // What the language client sent in didOpen (its default converter is Uri.toString()).
        documentUri: document?.uri.toString(),
        languageId,
        languageEnabled: languageId === undefined || isLanguageEnabled(this.settings.enable, languageId),
      }),
    );
  }

  dispose(): void {
    void this.stop();
  }
}
