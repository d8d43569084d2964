/**
 * Failures a person can fix, each with a message and the buttons that help (core/actions.ts). No `vscode` import.
 */
import type { Action, MessageLevel, ProblemMessage } from './actions';

export type Problem =
  /** `infill.server.pythonPath` names no file. */
  | { readonly kind: 'pythonNotFound'; readonly pythonPath: string }
  /** The server program is not on PATH or not at the configured path. */
  | { readonly kind: 'commandNotFound'; readonly command: string; readonly configured: boolean }
  /** The server process exited (or never answered `initialize`): how, and its last stderr lines, when known. */
  | {
    readonly kind: 'serverExited';
    readonly command: string;
    readonly detail?: string | undefined;
    readonly exit?: ProcessExit | undefined;
    readonly stderr?: readonly string[] | undefined;
  }
  /** The server reported `state: "error"`: no model, a failed download or load. */
  | { readonly kind: 'modelError'; readonly message: string; readonly localPath: string }
  /** The server reported `state: "error"` for a remote engine: unreachable, 401, 5xx, a timeout, ... */
  | { readonly kind: 'engineError'; readonly message: string; readonly url: string }
  /** Any other error the client or server asked to show. */
  | { readonly kind: 'other'; readonly message: string };

/** How a process ended: its exit code, or the signal that stopped it (Node's `close` event). */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: string | null;
}

/** "exited with code 1: "last lines"", for a process that ended; the client library's error otherwise. */
function exitDetail(problem: Extract<Problem, { kind: 'serverExited' }>): string {
  const { exit, stderr = [] } = problem;
  if (exit === undefined) {
    return `the server stopped (${problem.command})${problem.detail === undefined ? '' : `: ${problem.detail}`}`;
  }
  const how = exit.code !== null ? `exited with code ${String(exit.code)}` : `was stopped by ${exit.signal ?? 'a signal'}`;
  const said = stderr.map((line) => (line.length > 200 ? `${line.slice(0, 200)}…` : line)).join(' … ');
  return `the server (${problem.command}) ${how}${said === '' ? '' : `: "${said}"`}`;
}

/** The message and buttons for `problem`, most useful button first. */
export function describeProblem(problem: Problem): ProblemMessage {
  switch (problem.kind) {
    case 'pythonNotFound':
      return {
        message: `infill: Python was not found at "${problem.pythonPath}" (setting infill.server.pythonPath). ` +
          'Point it at the interpreter where infill-ls is installed (pip install <infill-ls repo>).',
        actions: ['openServerSettings', 'installHelp'],
      };
    case 'commandNotFound':
      return problem.configured
        ? {
          message: `infill: the server command "${problem.command}" was not found (setting infill.server.command).`,
          actions: ['openServerSettings', 'installHelp'],
        }
        : {
          message: 'infill: the infill-ls server is not installed ("infill-ls" is not on PATH). Install it now into an ' +
            'environment of its own (needs Python ≥ 3.11; llama-cpp-python compiles from source, which takes several ' +
            'minutes), or set infill.server.pythonPath to a Python that has it.',
          actions: ['installServer', 'openServerSettings', 'installHelp'],
        };
    case 'serverExited':
      return {
        message: `infill: ${exitDetail(problem)}. The log has its output.`,
        actions: ['showLog', 'restart', 'openServerSettings'],
      };
    case 'modelError':
      return problem.localPath === ''
        ? { message: `infill: ${problem.message}`, actions: ['downloadModel', 'openSettings', 'showLog'] }
        : { message: `infill: ${problem.message} (infill.model.path = "${problem.localPath}")`, actions: ['openSettings', 'showLog'] };
    case 'engineError':
      // The server retries by itself and reports `ready` again: nothing to download or restart.
      return { message: `infill: ${problem.message} (infill.engine.url = "${problem.url}")`, actions: ['openSettings', 'showLog'] };
    case 'other':
      return { message: problem.message.startsWith('infill') ? problem.message : `infill: ${problem.message}`, actions: ['showLog'] };
  }
}

/**
 * Remembers which messages were shown, so a status sent again (or a crash loop) does not stack up the
 * same notification. `reset` forgets everything, e.g. after a restart.
 */
export class OnceFilter {
  private readonly shown = new Set<string>();

  /** True the first time `key` is seen since the last reset. */
  first(key: string): boolean {
    if (this.shown.has(key)) {
      return false;
    }
    this.shown.add(key);
    return true;
  }

  reset(): void {
    this.shown.clear();
  }
}

export interface ServerMessage extends ProblemMessage {
  readonly level: MessageLevel;
}

/**
 * A `window/showMessage` from the server, as the extension shows it; undefined when it repeats the
 * `infill/status` error that was just shown with its buttons (the server sends both for a failed load).
 */
export function serverMessage(type: number, message: string, statusError: string | undefined): ServerMessage | undefined {
  const level: MessageLevel = type === 1 ? 'error' : type === 2 ? 'warning' : 'info';
  if (level === 'error' && statusError !== undefined && statusError !== '' && message.includes(statusError)) {
    return undefined;
  }
  const actions: Action[] = settingIn(message) !== undefined ? ['openSettings', 'showLog'] : ['showLog'];
  return { level, message, actions: level === 'info' ? [] : actions };
}

/** The model a "has no FIM tokens" warning of the server is about (its file name), or undefined. */
export function noFimModel(message: string): string | undefined {
  return /^(?:infill-ls: )?(.+?) has no FIM tokens\b/.exec(message)?.[1];
}

/** The first setting key (`infill.section.key`) a message names, for "Open Settings". */
export function settingIn(message: string): string | undefined {
  return /\binfill\.(?:model|completion|engine|server|client)\.\w+|\binfill\.enable\b/.exec(message)?.[0];
}
