/**
 * The notifications with buttons, and the one place that runs a button (`runAction`): Show Log, Open
 * Settings, How to Install, Retry and Install for every message, whether it is about the server
 * (core/problems.ts) or the install (core/install.ts); the actions themselves are in core/actions.ts.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { ACTION_LABELS, type Action, type MessageLevel, type ProblemMessage } from './core/actions';
import { openSettingsCommand } from './core/openSettings';
import { describeProblem, OnceFilter, type Problem, settingIn } from './core/problems';

/** "infill: Install or Repair the Server" (registered in extension.ts). */
const INSTALL_COMMAND = 'infill.installServer';

/** The actions other owners carry out: the server process and the controller's commands. */
export interface ActionHandlers {
  restart(): Promise<void>;
  downloadModel(): Promise<void>;
  installServer(): Promise<void>;
}

export class Notifications {
  /** One notification per distinct message until `reset` (the next start). */
  private readonly shown = new OnceFilter();
  /** The last problem shown, with its buttons: what the red status item offers (`pickFix`). */
  private fixes: ProblemMessage | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly handlers: ActionHandlers,
  ) {}

  /** Forgets what was shown: the next message is shown again. */
  reset(): void {
    this.shown.reset();
    this.fixes = undefined;
  }

  /** Shows `problem` with its buttons, unless the same message was shown since the last reset. */
  show(problem: Problem): void {
    const { message, actions } = describeProblem(problem);
    this.fixes = { message, actions };
    if (problem.kind === 'modelError' || problem.kind === 'engineError' || this.shown.first(message)) {
      this.notify('error', message, actions);
    }
  }

  /** Shows `message` with its buttons, unless it was shown since the last reset. */
  once(level: MessageLevel, message: string, actions: readonly Action[]): void {
    if (this.shown.first(message)) {
      this.notify(level, message, actions);
    }
  }

  /** Shows `message` with a button per action, and runs the one clicked. */
  notify(level: MessageLevel, message: string, actions: readonly Action[]): void {
    const show =
      level === 'error' ? vscode.window.showErrorMessage : level === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(message, ...actions.map((action) => ACTION_LABELS[action])).then((choice) => {
      const action = actions.find((candidate) => ACTION_LABELS[candidate] === choice);
      if (action !== undefined) {
        void this.runAction(action, message);
      }
    });
  }

  /** The red status item's click: a quick pick of Restart Server, the last problem's buttons, and Show Log. */
  async pickFix(failure: string | undefined): Promise<void> {
    const fixes = this.fixes ?? { message: failure ?? '', actions: [] };
    const actions = [...new Set<Action>(['restart', ...fixes.actions, 'showLog'])];
    const picked = await vscode.window.showQuickPick(
      actions.map((action) => ({ label: ACTION_LABELS[action], action })),
      { title: fixes.message === '' ? 'infill' : fixes.message, placeHolder: 'What fixes it?' },
    );
    if (picked !== undefined) {
      await this.runAction(picked.action, fixes.message);
    }
  }

  /** Runs `action`, a button of `message`. */
  async runAction(action: Action, message: string): Promise<void> {
    switch (action) {
      case 'downloadModel':
        return this.handlers.downloadModel();
      case 'openSettings':
        return this.openSettings(settingIn(message) ?? 'infill.model');
      case 'openServerSettings':
        return this.openSettings(settingIn(message) ?? 'infill.server');
      case 'openInstallSettings':
        return this.openSettings('infill.server.installPython');
      case 'showLog':
        this.output.show();
        return;
      case 'restart':
        return this.handlers.restart();
      case 'installHelp':
        await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.joinPath(this.context.extensionUri, this.readmeName()));
        return;
      case 'installServer':
        return this.handlers.installServer();
      case 'retry':
        // Through the command, so that the build can be chosen again and the server starts after.
        await vscode.commands.executeCommand(INSTALL_COMMAND);
        return;
    }
  }

  /** The README's file name: vsce packages README.md as readme.md, a source checkout has README.md. */
  private readmeName(): string {
    try {
      return fs.readdirSync(this.context.extensionUri.fsPath).find((name) => name.toLowerCase() === 'readme.md') ?? 'README.md';
    } catch {
      return 'README.md';
    }
  }

  /** Opens the settings editor on `query` in the tab that shows it (the Remote tab for a server path). */
  private async openSettings(query: string): Promise<void> {
    const { command, args } = openSettingsCommand(query, vscode.env.remoteName);
    await vscode.commands.executeCommand(command, ...args);
  }
}
