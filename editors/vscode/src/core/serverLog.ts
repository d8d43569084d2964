/**
 * The server's log in the output channel. No `vscode` import.
 *
 * infill-ls writes every record to stderr and, once the client is initialized, also sends its `infill_ls.*`
 * records (INFO and up) as `window/logMessage`. Both reach the same output channel, so a stderr line is
 * dropped when the same record arrives as a message, and kept (at its own level) otherwise: debug lines,
 * other loggers, tracebacks, and whatever the process prints before it is connected or after it broke.
 */

export type LogLevelName = 'error' | 'warn' | 'info' | 'debug';

const RECORD = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+): /;

const PYTHON_LEVELS: Readonly<Record<string, LogLevelName>> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  ERROR: 'error',
  CRITICAL: 'error',
};

/**
 * The level to log a stderr `line` at, or undefined to drop it. `forwarding` tells whether this server
 * process sends its records as `window/logMessage` (it does once it has received `initialized`).
 */
export function stderrLevel(line: string, forwarding: boolean): LogLevelName | undefined {
  const match = RECORD.exec(line);
  if (match === null) {
    return line.trim() === '' ? undefined : 'error';
  }
  const [, level = 'ERROR', logger = ''] = match;
  const ours = logger === 'infill_ls' || logger.startsWith('infill_ls.');
  if (forwarding && ours && level !== 'DEBUG') {
    return undefined;
  }
  return PYTHON_LEVELS[level] ?? 'error';
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
