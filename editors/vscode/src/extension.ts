/** Activation: wires the output channel, status bar, commands and listeners to the controller and its server process. */
import * as vscode from 'vscode';
import { Controller } from './controller';
import { StatusBar } from './statusBar';

let controller: Controller | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('infill', { log: true });
  const bar = new StatusBar('infill.toggle', 'infill.fixActions');
  const active = new Controller(context, output, bar);
  controller = active;
  context.subscriptions.push(
    output,
    bar,
    vscode.commands.registerCommand('infill.restartServer', () => active.server.restart()),
    vscode.commands.registerCommand('infill.showLog', () => {
      output.show();
    }),
    vscode.commands.registerCommand('infill.toggle', () => active.toggle()),
    // The red status item's click: not in the palette (the status item runs it in the error state only).
    vscode.commands.registerCommand('infill.fixActions', () => active.fixActions()),
    vscode.commands.registerCommand('infill.downloadModel', () => active.downloadModel()),
    vscode.commands.registerCommand('infill.installServer', () => active.installServer()),
    vscode.commands.registerCommand('infill.showStatistics', () => active.showStatistics()),
    // VS Code's accept-next-word/line, reporting what they accepted to the server (src/feedback.ts).
    vscode.commands.registerCommand('infill.acceptNextWord', () => active.partAccepts.accept('word')),
    vscode.commands.registerCommand('infill.acceptNextLine', () => active.partAccepts.accept('line')),
    vscode.workspace.onDidChangeConfiguration((event) => {
      active.onConfigurationChanged(event);
    }),
    vscode.window.onDidChangeActiveTextEditor(() => {
      active.refresh();
      active.focusChanged('editor');
    }),
    vscode.window.onDidChangeWindowState((state) => {
      if (state.focused) {
        active.focusChanged('window');
      }
    }),
    vscode.window.onDidChangeTextEditorSelection((event) => {
      if (event.textEditor === vscode.window.activeTextEditor) {
        active.focusChanged('selection');
      }
    }),
  );
  void active.server.start();
}

export function deactivate(): Promise<void> | undefined {
  return controller?.server.stop();
}
