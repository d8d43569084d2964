/**
 * Runs one program in a VS Code terminal (a pseudoterminal, so no shell quoting is involved) and reports
 * its exit code. Used by "infill: Download Model"; the download's progress bar shows in the terminal.
 */
import { spawn } from 'node:child_process';
import * as vscode from 'vscode';
import { type CommandLine, formatCommand } from './core/serverCommand';

/** Starts `line` in a new terminal named `name`; resolves with its exit code (null if it did not start). */
export function runInTerminal(name: string, line: CommandLine, cwd: string | undefined): Promise<number | null> {
  return new Promise((resolve) => {
    const write = new vscode.EventEmitter<string>();
    const print = (text: string): void => {
      write.fire(text.replace(/\r?\n/g, '\r\n'));
    };
    let stop: (() => void) | undefined;
    const pty: vscode.Pseudoterminal = {
      onDidWrite: write.event,
      open: () => {
        print(`$ ${formatCommand(line)}\n`);
        const child = spawn(line.command, [...line.args], { cwd, env: { ...process.env, PYTHONUNBUFFERED: '1' } });
        stop = () => child.kill();
        child.stdout.on('data', (chunk: Buffer) => {
          print(chunk.toString());
        });
        child.stderr.on('data', (chunk: Buffer) => {
          print(chunk.toString());
        });
        child.on('error', (error) => {
          print(`\n${error.message}\n`);
          resolve(null);
        });
        child.on('close', (code) => {
          print(`\n[infill] ${code === 0 ? 'done' : `exited with code ${String(code)}`}. Close this terminal when you like.\n`);
          resolve(code);
        });
      },
      close: () => stop?.(),
      handleInput: (data) => {
        if (data === '\x03') {
          stop?.();
        }
      },
    };
    vscode.window.createTerminal({ name, pty }).show();
  });
}
