/**
 * What the buttons of a notification (and the red status item's quick pick) can do: one union and one label
 * table for the server's problems (core/problems.ts) and the install's (core/install.ts). src/notifications.ts
 * shows them and runs the one clicked. No `vscode` import.
 */

export type Action =
  | 'downloadModel'
  | 'openSettings'
  | 'openServerSettings'
  | 'openInstallSettings'
  | 'showLog'
  | 'restart'
  | 'installHelp'
  | 'installServer'
  | 'retry';

export const ACTION_LABELS: Readonly<Record<Action, string>> = {
  downloadModel: 'Download Model',
  openSettings: 'Open Settings',
  openServerSettings: 'Open Settings',
  openInstallSettings: 'Open Settings',
  showLog: 'Show Log',
  restart: 'Restart Server',
  installHelp: 'How to Install',
  installServer: 'Install',
  retry: 'Retry',
};

export type MessageLevel = 'error' | 'warning' | 'info';

/** A message with its buttons, most useful first. */
export interface ProblemMessage {
  readonly message: string;
  readonly actions: readonly Action[];
}
