/**
 * Where "Open Settings" takes a person for a setting. No `vscode` import.
 *
 * `infill.server.command` and `infill.server.pythonPath` name programs on the machine the extension host runs
 * on, which in a remote window (SSH, WSL, a container, code-server) is the remote machine, and
 * `infill.engine.url` names an inference server as that machine reaches it: their scope is
 * `machine-overridable` (that machine's settings, or a trusted workspace's). VS Code's User tab in a remote
 * window shows only the scopes a local machine holds (application, window, resource, language-overridable:
 * LOCAL_MACHINE_SCOPES in VS Code's configuration.ts), so it finds no such setting; the Remote tab shows them.
 */

/** The settings whose values belong to the machine the server runs on. */
export const MACHINE_SETTINGS: readonly string[] = ['infill.server.command', 'infill.server.pythonPath', 'infill.engine.url'];

export interface SettingsCommand {
  readonly command: string;
  readonly args: unknown[];
}

/** The command that opens the settings editor on `query` (a key or a key prefix) where it is shown. */
export function openSettingsCommand(query: string, remoteName: string | undefined): SettingsCommand {
  const machine = MACHINE_SETTINGS.some((key) => key === query || key.startsWith(`${query}.`));
  return remoteName !== undefined && remoteName !== '' && machine
    ? { command: 'workbench.action.openRemoteSettings', args: [{ query }] }
    : { command: 'workbench.action.openSettings', args: [query] };
}
