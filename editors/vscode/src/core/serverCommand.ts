/**
 * Which program runs the server, and how to find out that it is missing. No `vscode` import.
 *
 * - `infill.server.command` set: that command line, as given (a string is one program path, no arguments).
 * - else `infill.server.pythonPath` set: `<pythonPath> -m infill_ls serve`.
 * - else, when the extension installed the server (src/installer.ts): `<its venv's python> -m infill_ls serve`.
 * - else `infill-ls serve` from PATH.
 */

export interface CommandLine {
  readonly command: string;
  readonly args: readonly string[];
}

/** Where the command line came from; decides which error message a missing program gets. */
export type CommandSource = 'command' | 'pythonPath' | 'managed' | 'path';

export interface ResolvedCommand extends CommandLine {
  readonly source: CommandSource;
}

export interface CommandSettings {
  /** `infill.server.command`, already a list (see `clientSettings`). */
  readonly command: readonly string[];
  /** `infill.server.pythonPath`. */
  readonly pythonPath: string;
}

/** Values for `~`, `${userHome}` and `${workspaceFolder}` in paths. */
export interface PathVariables {
  readonly home: string;
  readonly workspaceFolder?: string | undefined;
}

export const DEFAULT_EXECUTABLE = 'infill-ls';
export const PYTHON_MODULE = 'infill_ls';

/** Expands a leading `~` and the variables `${userHome}` / `${workspaceFolder}`. */
export function expandPath(value: string, vars: PathVariables): string {
  let out = value.replace(/\$\{userHome\}/g, vars.home);
  if (vars.workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, vars.workspaceFolder);
  }
  if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) {
    out = vars.home + out.slice(1);
  }
  return out;
}

/** The command line that serves LSP over stdio; `managed` is the Python of the server the extension installed. */
export function serveCommand(settings: CommandSettings, vars: PathVariables, managed?: string): ResolvedCommand {
  const [program, ...rest] = settings.command;
  if (program !== undefined) {
    return { command: expandPath(program, vars), args: rest.map((arg) => expandPath(arg, vars)), source: 'command' };
  }
  if (settings.pythonPath !== '') {
    return { command: expandPath(settings.pythonPath, vars), args: ['-m', PYTHON_MODULE, 'serve'], source: 'pythonPath' };
  }
  if (managed !== undefined) {
    return { command: managed, args: ['-m', PYTHON_MODULE, 'serve'], source: 'managed' };
  }
  return { command: DEFAULT_EXECUTABLE, args: ['serve'], source: 'path' };
}

/**
 * The command line that downloads `repo`/`file` into the Hugging Face cache: the serve command with its
 * `serve` argument (and what follows it) replaced by `download REPO FILE`.
 */
export function downloadCommand(settings: CommandSettings, vars: PathVariables, repo: string, file: string, managed?: string): ResolvedCommand {
  const serve = serveCommand(settings, vars, managed);
  const at = serve.args.indexOf('serve');
  const base = at === -1 ? serve.args : serve.args.slice(0, at);
  const target = [repo, file].filter((part) => part !== '');
  return { ...serve, args: [...base, 'download', ...target] };
}

/** The command line shown to a person (the log, error messages): arguments with spaces quoted. */
export function formatCommand(line: CommandLine): string {
  return [line.command, ...line.args].map((part) => (/[\s"']/.test(part) ? JSON.stringify(part) : part)).join(' ');
}

export interface SearchEnvironment {
  readonly PATH?: string | undefined;
  readonly PATHEXT?: string | undefined;
}

/**
 * The file `program` would run as, or undefined when there is none.
 *
 * A name with a path separator is checked as it is; a bare name is looked up in PATH (with PATHEXT on
 * Windows). `isFile` is injected so that tests need no file system.
 */
export function findExecutable(
  program: string,
  env: SearchEnvironment,
  platform: string,
  isFile: (path: string) => boolean,
): string | undefined {
  const windows = platform === 'win32';
  const separator = windows ? ';' : ':';
  const join = (dir: string, name: string): string => (dir.endsWith('/') || dir.endsWith('\\') ? dir + name : `${dir}${windows ? '\\' : '/'}${name}`);
  const extensions = windows
    ? ['', ...(env.PATHEXT ?? '.COM;.EXE;.BAT;.CMD').split(';').filter((ext) => ext !== '')]
    : [''];
  const candidates = (base: string): string[] => extensions.map((ext) => base + ext.toLowerCase());
  if (program.includes('/') || (windows && program.includes('\\'))) {
    return candidates(program).find(isFile);
  }
  for (const dir of (env.PATH ?? '').split(separator)) {
    if (dir === '') {
      continue;
    }
    const found = candidates(join(dir, program)).find(isFile);
    if (found !== undefined) {
      return found;
    }
  }
  return undefined;
}

/** The `Executable` handed to vscode-languageclient (structurally the same type). */
export interface ServerExecutable {
  readonly command: string;
  readonly args: string[];
  readonly options: { readonly cwd?: string | undefined; readonly env: Record<string, string | undefined> };
}

/**
 * How the extension runs the server. There is deliberately no `transport`: with `TransportKind.stdio`
 * vscode-languageclient appends `--stdio`, which current `infill-ls serve` accepts and ignores but older
 * versions reject (argparse exits with 2); without it the client speaks LSP over stdin/stdout all the same.
 */
export function serverExecutable(line: CommandLine, cwd: string | undefined, env: Readonly<Record<string, string | undefined>>): ServerExecutable {
  return { command: line.command, args: [...line.args], options: { cwd, env: { ...env, PYTHONUNBUFFERED: '1' } } };
}
