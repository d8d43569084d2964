/** The status bar item: renders a `StatusView`. A click runs "infill: Toggle Completions", or in the error
 * state `fixCommand` (a quick pick of what fixes it). */
import * as vscode from 'vscode';
import type { StatusView } from './core/status';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('infill.status', vscode.StatusBarAlignment.Right, 100);

  constructor(
    private readonly toggleCommand: string,
    private readonly fixCommand: string,
  ) {
    this.item.name = 'infill';
    this.item.command = toggleCommand;
    this.item.show();
  }

  render(view: StatusView): void {
    this.item.command = view.kind === 'error' ? this.fixCommand : this.toggleCommand;
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.kind === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
