/** The status bar item: renders a `StatusView`; clicking it runs "infill: Toggle Completions". */
import * as vscode from 'vscode';
import type { StatusView } from './core/status';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('infill.status', vscode.StatusBarAlignment.Right, 100);

  constructor(command: string) {
    this.item.name = 'infill';
    this.item.command = command;
    this.item.show();
  }

  render(view: StatusView): void {
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.kind === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
