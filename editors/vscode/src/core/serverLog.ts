/**
 * The server's log in the output channel. No `vscode` import.
 *
 * infill-ls sends its records as `window/logMessage` from `initialized` until `shutdown`, and writes them to
 * stderr only before and after (server/infill_ls/logs.py), so a stderr record is never a copy of a message:
 * each line is logged once, at its own level. Lines that are not records (a C library's output, a crash's
 * traceback) continue the record before them, or else are info, except a traceback and the CLI's fatal error.
 */

export type LogLevelName = 'error' | 'warn' | 'info' | 'debug';

const RECORD = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: /;
const FATAL = /^(Traceback \(most recent call last\):|infill-ls: error: )/;

const PYTHON_LEVELS: Readonly<Record<string, LogLevelName>> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  ERROR: 'error',
  CRITICAL: 'error',
};

/** One server process's stderr, line by line: the level to log each line at, and the last lines. */
export class StderrLines {
  /** The level of the record being continued by lines that are not records. */
  private current: LogLevelName = 'info';
  private readonly lines: string[] = [];

  /** `keep`: how many of the last non-empty lines `last` returns. */
  constructor(private readonly keep = 3) {}

  /** The level to log `line` at, or undefined to drop it (a blank line). */
  level(line: string): LogLevelName | undefined {
    if (line.trim() === '') {
      return undefined;
    }
    this.lines.push(line.trim());
    if (this.lines.length > this.keep) {
      this.lines.shift();
    }
    const match = RECORD.exec(line);
    if (match !== null) {
      this.current = PYTHON_LEVELS[match[1] ?? ''] ?? 'error';
    } else if (FATAL.test(line)) {
      this.current = 'error';
    }
    return this.current;
  }

  /** The last non-empty lines, oldest first: what a process that exited said last. */
  last(): string[] {
    return [...this.lines];
  }
}

/** The level for a `window/logMessage` of LSP `MessageType` `type`. */
export function messageLevel(type: number): LogLevelName {
  switch (type) {
    case 1:
      return 'error';
    case 2:
      return 'warn';
    case 5:
      return 'debug';
    default:
      return 'info';
  }
}
