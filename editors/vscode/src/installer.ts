/**
 * Installs infill-ls into a virtual environment in the extension's global storage, from the wheel in the
 * .vsix (`server/infill_ls-*.whl`), with a progress notification; upgrades it when the extension brings a
 * new wheel. The decisions (which Python, which command lines, what a failure means) are in core/install.ts;
 * a failure is shown, with its buttons, by src/notifications.ts.
 *
 * Layout under `<globalStorage>/server/`: `venv/` (the environment) and `installed.json` (the stamp, written
 * last: without it the environment is not used, and the next install replaces it).
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  type Backend,
  backendChoices,
  backendLabel,
  bundledWheel,
  choosePython,
  classifyFailure,
  describeInstallProblem,
  installEnvironment,
  type InstallProblem,
  type InstallStamp,
  installState,
  installSteps,
  parseProbe,
  parseStamp,
  pipProgress,
  PROBE_SCRIPT,
  pythonCandidates,
  type PythonProbe,
  type StepCommand,
  upgradeSteps,
  venvPython,
  versionText,
  wheelVersion,
} from './core/install';
import type { Notifications } from './notifications';

/** Lines of a step's output kept for the error message (all of it goes to the log). */
const TAIL = 40;

interface StepResult {
  readonly code: number | null;
  readonly tail: string[];
  readonly stdout: string;
}

class Cancelled extends Error {}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export class ServerInstaller {
  /** The install or upgrade in progress, so that a second request joins it. */
  private running: Promise<boolean> | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.LogOutputChannel,
    private readonly notifications: Notifications,
  ) {}

  private get root(): string {
    return path.join(this.context.globalStorageUri.fsPath, 'server');
  }

  private get venv(): string {
    return path.join(this.root, 'venv');
  }

  private get stampFile(): string {
    return path.join(this.root, 'installed.json');
  }

  private get wheelFolder(): string {
    return path.join(this.context.extensionUri.fsPath, 'server');
  }

  /** The bundled wheel's path, name and hash, or undefined when the .vsix has none. */
  private wheel(): { path: string; name: string; sha256: string } | undefined {
    let files: string[];
    try {
      files = fs.readdirSync(this.wheelFolder);
    } catch {
      return undefined;
    }
    const name = bundledWheel(files);
    if (name === undefined) {
      return undefined;
    }
    const file = path.join(this.wheelFolder, name);
    return { path: file, name, sha256: crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') };
  }

  /**
   * The managed server's Python, upgrading the environment first when the extension brings a newer wheel;
   * undefined when nothing was installed.
   */
  async python(): Promise<string | undefined> {
    const stamp = parseStamp(readText(this.stampFile));
    const python = venvPython(this.venv, process.platform);
    if (stamp === undefined || !fs.existsSync(python)) {
      return undefined;
    }
    const wheel = this.wheel();
    if (installState(stamp, wheel) === 'outdated' && wheel !== undefined) {
      this.output.info(`the managed server has ${stamp.wheel}; the extension brings ${wheel.name}: upgrading`);
      await this.once(() => this.upgrade(stamp, wheel));
      // A failed upgrade leaves the old version in place (pip rolls back); a cancelled one removes the stamp.
      return fs.existsSync(this.stampFile) ? python : undefined;
    }
    return python;
  }

  /**
   * "infill: Install or Repair the Server": asks which build of llama-cpp-python, then installs into a fresh
   * environment. True when the server is installed. `beforeReplace` runs just before the old environment is
   * removed (the controller stops a server that runs from it).
   */
  async install(beforeReplace: () => Promise<void> = () => Promise.resolve()): Promise<boolean> {
    if (this.running !== undefined) {
      return this.running;
    }
    const platform = process.platform;
    const choices = backendChoices(platform);
    const picked = await vscode.window.showQuickPick(
      choices.map((choice) => ({ label: choice.label, detail: choice.detail, backend: choice.backend })),
      { title: 'infill: build llama-cpp-python for', placeHolder: 'CPU works everywhere; a GPU build needs its toolkit', ignoreFocusOut: true },
    );
    if (picked === undefined) {
      return false;
    }
    return this.once(() => this.fresh(picked.backend, beforeReplace));
  }

  private async once(task: () => Promise<boolean>): Promise<boolean> {
    if (this.running !== undefined) {
      return this.running;
    }
    this.running = task().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async fresh(backend: Backend, beforeReplace: () => Promise<void>): Promise<boolean> {
    const wheel = this.wheel();
    if (wheel === undefined) {
      this.failed({ kind: 'noWheel', folder: this.wheelFolder });
      return false;
    }
    return this.withProgress('infill: installing the server', async (report, token) => {
      report('finding Python ≥ 3.11');
      const python = await this.findPython(token);
      if ('kind' in python) {
        return python;
      }
      this.output.info(`installing ${wheel.name} with ${python.executable} (${versionText(python.version)}), ${backendLabel(backend)} build, into ${this.venv}`);
      await beforeReplace();
      fs.rmSync(this.stampFile, { force: true });
      fs.rmSync(this.venv, { recursive: true, force: true });
      fs.mkdirSync(this.root, { recursive: true });
      let problem: InstallProblem | undefined;
      try {
        problem = await this.runSteps(installSteps(python, this.venv, wheel.path, backend, process.platform), backend, report, token, python);
      } finally {
        if (problem !== undefined || token.isCancellationRequested) {
          fs.rmSync(this.venv, { recursive: true, force: true });
        }
      }
      if (problem !== undefined) {
        return problem;
      }
      this.writeStamp({ wheel: wheel.name, sha256: wheel.sha256, backend, python: versionText(python.version) });
      void vscode.window.showInformationMessage(
        `infill: the server is installed (infill-ls ${wheelVersion(wheel.name)}, Python ${versionText(python.version)}, ${backendLabel(backend)} build).`,
      );
      return undefined;
    });
  }

  private async upgrade(stamp: InstallStamp, wheel: { path: string; name: string; sha256: string }): Promise<boolean> {
    return this.withProgress('infill: upgrading the server', async (report, token) => {
      const problem = await this.runSteps(upgradeSteps(this.venv, wheel.path, stamp.backend, process.platform), stamp.backend, report, token);
      if (problem === undefined) {
        this.writeStamp({ ...stamp, wheel: wheel.name, sha256: wheel.sha256 });
      }
      return problem;
    });
  }

  private writeStamp(stamp: InstallStamp): void {
    fs.writeFileSync(this.stampFile, `${JSON.stringify(stamp, null, 2)}\n`);
  }

  /**
   * Runs `task` under a cancellable progress notification; a problem it returns is shown with its buttons.
   * True when the task succeeded.
   */
  private async withProgress(
    title: string,
    task: (report: (message: string) => void, token: vscode.CancellationToken) => Promise<InstallProblem | undefined>,
  ): Promise<boolean> {
    let problem: InstallProblem | undefined;
    try {
      problem = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        (progress, token) => task((message) => {
          progress.report({ message });
        }, token),
      );
    } catch (error) {
      if (error instanceof Cancelled) {
        this.output.warn(`${title}: cancelled`);
        fs.rmSync(this.stampFile, { force: true });
        return false;
      }
      throw error;
    }
    if (problem === undefined) {
      return true;
    }
    this.failed(problem);
    return false;
  }

  private failed(problem: InstallProblem): void {
    const { message, actions } = describeInstallProblem(problem);
    this.output.error(message);
    this.notifications.notify('error', message, actions);
  }

  /** Runs each candidate's probe, in order, and picks the first usable one. */
  private async findPython(token: vscode.CancellationToken): Promise<PythonProbe | InstallProblem> {
    const setting = vscode.workspace.getConfiguration('infill').get<unknown>('server.installPython');
    const configured = typeof setting === 'string' ? setting.trim() : '';
    const candidates = pythonCandidates(configured, process.platform);
    const probes: (PythonProbe | undefined)[] = [];
    for (const candidate of candidates) {
      const result = await this.exec(candidate, ['-c', PROBE_SCRIPT], process.env, token, () => undefined, false);
      const probe = result.code === 0 ? parseProbe(candidate, result.stdout) : undefined;
      this.output.info(probe === undefined ? `${candidate}: does not run` : `${candidate}: Python ${versionText(probe.version)} at ${probe.executable}${probe.venv ? '' : ' (no venv module)'}`);
      probes.push(probe);
      const chosen = choosePython(candidates.slice(0, probes.length), probes, configured !== '');
      if (!('kind' in chosen)) {
        return chosen;
      }
    }
    return choosePython(candidates, probes, configured !== '');
  }

  /** Runs the steps in order; the first that fails gives the problem. */
  private async runSteps(
    steps: readonly StepCommand[],
    backend: Backend,
    report: (message: string) => void,
    token: vscode.CancellationToken,
    python?: PythonProbe,
  ): Promise<InstallProblem | undefined> {
    const env = installEnvironment(process.env, backend);
    for (const step of steps) {
      report(step.title);
      this.output.info(`$ ${[step.command, ...step.args].join(' ')}`);
      const result = await this.exec(step.command, step.args, env, token, (line) => {
        const message = pipProgress(line);
        if (message !== undefined) {
          report(`${step.title}: ${message}`);
        }
      }, true);
      if (result.code !== 0) {
        return classifyFailure(step.step, result.code, result.tail, python);
      }
    }
    return undefined;
  }

  /** Runs one program; every line of its output goes to the log (when `log`) and to `onLine`. */
  private exec(
    command: string,
    args: readonly string[],
    env: Readonly<Record<string, string | undefined>>,
    token: vscode.CancellationToken,
    onLine: (line: string) => void,
    log: boolean,
  ): Promise<StepResult> {
    return new Promise((resolve, reject) => {
      if (token.isCancellationRequested) {
        reject(new Cancelled());
        return;
      }
      const tail: string[] = [];
      let stdout = '';
      // Its own process group on POSIX, so that a cancel also stops the compilers pip started.
      const group = process.platform !== 'win32';
      const child = spawn(command, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, detached: group });
      const cancel = token.onCancellationRequested(() => {
        try {
          if (group && child.pid !== undefined) {
            process.kill(-child.pid, 'SIGTERM');
          } else {
            child.kill();
          }
        } catch {
          // already gone
        }
      });
      const lines = (stream: NodeJS.ReadableStream, keep: boolean): void => {
        let rest = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          if (keep) {
            stdout += chunk;
          }
          const parts = (rest + chunk).split(/\r?\n/);
          rest = parts.pop() ?? '';
          for (const line of parts) {
            take(line);
          }
        });
        stream.on('end', () => {
          if (rest !== '') {
            take(rest);
          }
        });
      };
      const take = (line: string): void => {
        tail.push(line);
        if (tail.length > TAIL) {
          tail.shift();
        }
        if (log) {
          this.output.info(line);
        }
        onLine(line);
      };
      lines(child.stdout, true);
      lines(child.stderr, false);
      let settled = false;
      const settle = (code: number | null): void => {
        if (settled) {
          return;
        }
        settled = true;
        cancel.dispose();
        if (token.isCancellationRequested) {
          reject(new Cancelled());
        } else {
          resolve({ code, tail, stdout });
        }
      };
      // A program that cannot start (ENOENT) reports here, and may never emit 'close'.
      child.on('error', (error) => {
        take(error.message);
        settle(-1);
      });
      child.on('close', settle);
    });
  }
}
