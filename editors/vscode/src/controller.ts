/**
 * The status view and the commands: composes the server process (src/serverProcess.ts), the notifications
 * (src/notifications.ts) and the installer (src/installer.ts), renders the status bar from what the server
 * process reports, and runs Toggle Completions, Download Model and Install or Repair the Server.
 */
import * as vscode from 'vscode';
import type { ShowMessageParams } from 'vscode-languageclient/node';
import { CLIENT_ID } from './client';
import { DID_FOCUS, type FocusCause, FocusReporter, type FocusTarget } from './core/focus';
import { describeProblem, noFimModel, type Problem, serverMessage } from './core/problems';
import { downloadCommand, serveCommand } from './core/serverCommand';
import { type ClientSettings, clientSettings, configChange, isLanguageEnabled } from './core/settings';
import { PERIODS, parseStats, STATS_REQUEST, type StatsResult, statsHtml } from './core/stats';
import { type StatusPayload, statusView } from './core/status';
import { PartAccepts } from './feedback';
import { ServerInstaller } from './installer';
import { Notifications } from './notifications';
import { locate, pathVariables, ServerProcess } from './serverProcess';
import type { StatusBar } from './statusBar';
import { runInTerminal } from './terminal';

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(CLIENT_ID);
}

function stringSetting(key: string): string {
  const value = config().get<unknown>(key);
  return typeof value === 'string' ? value : '';
}

/** The active editor as `infill/didFocus` needs it; undefined when there is none. */
function focusTarget(editor: vscode.TextEditor | undefined): FocusTarget | undefined {
  if (editor === undefined) {
    return undefined;
  }
  const { document, selection } = editor;
  return {
    // What the language client sent in didOpen (its default converter is Uri.toString()).
    uri: document.uri.toString(),
    scheme: document.uri.scheme,
    languageId: document.languageId,
    version: document.version,
    line: selection.active.line,
    character: selection.active.character,
  };
}

/** What "shown" counts in VS Code, said under the statistics. */
const SHOWN_IN_VSCODE = 'VS Code tells an extension nothing about which suggestion it shows, so from VS Code "shown" stays 0 '
  + 'and the rate is a share of the suggestions the server answered.';

/** globalState key: the models whose "no FIM tokens" warning was shown (once per model, then the tooltip). */
const NO_FIM_SHOWN = 'infill.noFimWarningShown';

export class Controller implements vscode.Disposable {
  /** The server process: start, stop, restart, its phase and its last status. */
  readonly server: ServerProcess;
  /** Why the server is not running, for the status bar tooltip. */
  private failure: string | undefined;
  /** A standing warning about the model, shown in the status tooltip. */
  private warning: string | undefined;
  /** The client-only settings, re-read on every configuration change. */
  private settings: ClientSettings = clientSettings(config());
  /** "Install or Repair the Server" is running. */
  private installing = false;
  /** The server error last shown, so the same `state: "error"` sent again shows nothing new. */
  private lastServerError: string | undefined;
  /** The notifications with buttons, and what their buttons do. */
  private readonly notifications: Notifications;
  /** The server the extension installs itself (src/installer.ts). */
  private readonly installer: ServerInstaller;
  /** Tells the server where the user is (`infill/didFocus`), so that it can warm that file. */
  private readonly focus: FocusReporter;
  /** The accept-next-word and accept-next-line keys, which report what they accepted (`infill/didFeedback`). */
  readonly partAccepts: PartAccepts;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly bar: StatusBar,
  ) {
    this.notifications = new Notifications(context, output, {
      restart: () => this.server.restart(),
      downloadModel: () => this.downloadModel(),
      installServer: () => this.installServer(),
    });
    this.installer = new ServerInstaller(context, output, this.notifications);
    this.partAccepts = new PartAccepts((method, params) => {
      this.server.notify(method, params);
    });
    this.focus = new FocusReporter(
      (params) => {
        this.server.notify(DID_FOCUS, params);
      },
      (target) => this.settings.completionEnabled && isLanguageEnabled(this.settings.enable, target.languageId),
    );
    this.server = new ServerProcess(
      output,
      () => this.settings,
      async () => serveCommand(this.settings, pathVariables(), await this.managedPython()),
      {
        starting: () => {
          this.failure = undefined;
          this.warning = undefined;
          this.lastServerError = undefined;
          this.notifications.reset();
        },
        changed: () => {
          this.refresh();
        },
        running: () => {
          // A new process knows nothing of where the user is.
          this.focus.reset();
          this.focusChanged('editor');
        },
        failed: (problem) => {
          this.stopped(problem);
        },
        status: (status) => {
          this.onStatus(status);
        },
        message: (params) => {
          this.onServerMessage(params);
        },
        clientError: (message) => {
          this.notifications.show({ kind: 'other', message });
        },
        offered: (document, items) => {
          this.partAccepts.remember(document, items);
        },
      },
    );
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
        if (this.server.running) {
          server.stopped = true;
          await this.server.stop();
        }
      });
    } finally {
      this.installing = false;
      this.refresh();
    }
    if (!installed) {
      if (server.stopped) {
        await this.server.start();
      }
      return;
    }
    if (this.settings.command.length > 0 || this.settings.pythonPath !== '') {
      void vscode.window.showInformationMessage('infill: infill.server.command or infill.server.pythonPath is set, so that server is used; clear it to use the installed one.');
    }
    await this.server.restart();
  }

  /** The server is not running because of `problem`: the tooltip says why, and a notification once. */
  private stopped(problem: Problem): void {
    const { message } = describeProblem(problem);
    this.failure = message;
    this.output.error(message);
    this.notifications.show(problem);
    this.refresh();
  }

  private onStatus(status: StatusPayload): void {
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

  /** The open "infill: Statistics" panel, if any. */
  private statsPanel: vscode.WebviewPanel | undefined;

  /** "infill: Show Statistics": the server's `infill/stats` for 7 and 30 days in a webview (core/stats.ts). */
  async showStatistics(): Promise<void> {
    let results: StatsResult[];
    try {
      const answers = await Promise.all(PERIODS.map((days) => this.server.request(STATS_REQUEST, { days })));
      results = answers.flatMap((answer) => {
        const parsed = parseStats(answer);
        return parsed === undefined ? [] : [parsed];
      });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.output.error(`${STATS_REQUEST}: ${detail}`);
      void vscode.window.showErrorMessage(`infill: the statistics are not available: ${detail}.`);
      return;
    }
    const panel = this.statsPanel ?? vscode.window.createWebviewPanel('infill.statistics', 'infill: Statistics', vscode.ViewColumn.Active, {
      enableScripts: false,
    });
    if (this.statsPanel === undefined) {
      this.statsPanel = panel;
      panel.onDidDispose(() => {
        this.statsPanel = undefined;
      });
    } else {
      panel.reveal();
    }
    panel.webview.html = statsHtml(results, SHOWN_IN_VSCODE);
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
    const located = locate(downloadCommand(this.settings, pathVariables(), repo, file, await this.managedPython()));
    if ('kind' in located) {
      this.notifications.reset();
      this.notifications.show(located);
      return;
    }
    const code = await runInTerminal('infill: download model', located, pathVariables().workspaceFolder);
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
    const state = this.server.status?.state;
    if (state !== 'ready' && state !== 'loading') {
      await this.server.restart();
    }
  }

  onConfigurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration(CLIENT_ID)) {
      return;
    }
    this.settings = clientSettings(config());
    if (configChange((section) => event.affectsConfiguration(section)) === 'restart') {
      void this.server.restart();
    }
    this.refresh();
  }

  /** The active editor, the window's focus or the cursor changed (`cause`): report where the user is now. */
  focusChanged(cause: FocusCause): void {
    this.focus.changed(cause, focusTarget(vscode.window.activeTextEditor));
  }

  /** Renders the status bar for the current state and active editor. */
  refresh(): void {
    const document = vscode.window.activeTextEditor?.document;
    const languageId = document?.languageId;
    this.bar.render(
      statusView(this.server.status, {
        phase: this.server.phase,
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
    this.focus.dispose();
    this.statsPanel?.dispose();
    void this.server.stop();
  }
}
