/**
 * The managed server: infill-ls installed by the extension into a virtual environment it owns (in its global
 * storage), from the wheel that travels inside the .vsix. This module holds the parts with no `vscode` import:
 * finding a Python, the command lines, pip's progress, the completion stamp, and what a failure means (with the
 * buttons of core/actions.ts). src/installer.ts runs it.
 *
 * An install is complete when the stamp file names the bundled wheel; it is written last, so an install that
 * failed or was cancelled half way is never used (and the next install starts from a fresh environment).
 */
import type { ProblemMessage } from './actions';

/** Oldest Python infill-ls runs on (pyproject.toml's `requires-python`). */
export const MIN_PYTHON = [3, 11] as const;

/** Programs tried, in order, when `infill.server.installPython` is empty. */
export function pythonCandidates(setting: string, platform: string): string[] {
  if (setting !== '') {
    return [setting];
  }
  const names = ['python3.13', 'python3.12', 'python3.11', 'python3'];
  return platform === 'win32' ? [...names, 'python'] : names;
}

/** Run as `<python> -c PROBE_SCRIPT`: prints one JSON line that `parseProbe` reads (works on any Python). */
export const PROBE_SCRIPT = [
  'import json, sys',
  'r = {"version": list(sys.version_info[:3]), "executable": sys.executable, "venv": True}',
  'try:',
  '    import venv, ensurepip',
  'except ImportError:',
  '    r["venv"] = False',
  'print(json.dumps(r))',
].join('\n');

export interface PythonProbe {
  /** The name or path that was run. */
  readonly candidate: string;
  /** The interpreter file (`sys.executable`). */
  readonly executable: string;
  readonly version: readonly [number, number, number];
  /** Whether `venv` and `ensurepip` import (Debian splits them into python3.X-venv). */
  readonly venv: boolean;
}

/** The probe's output, or undefined when it is not what PROBE_SCRIPT prints. */
export function parseProbe(candidate: string, stdout: string): PythonProbe | undefined {
  const line = stdout.trim().split(/\r?\n/).pop() ?? '';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }
  const { version, executable, venv } = value as Record<string, unknown>;
  if (!Array.isArray(version) || version.length !== 3 || !version.every((n) => typeof n === 'number') || typeof executable !== 'string') {
    return undefined;
  }
  const [major, minor, micro] = version;
  return { candidate, executable, version: [major ?? 0, minor ?? 0, micro ?? 0], venv: venv === true };
}

export function versionText(version: readonly number[]): string {
  return version.join('.');
}

function isSupported(version: readonly number[]): boolean {
  const [major = 0, minor = 0] = version;
  return major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1]);
}

/** Why an install failed, with what a person needs to fix it. */
export type InstallProblem =
  /** The .vsix has no `server/infill_ls-*.whl` (a development build). */
  | { readonly kind: 'noWheel'; readonly folder: string }
  /** No candidate runs as Python ≥ 3.11; `found` lists the ones that ran, with their versions. */
  | { readonly kind: 'noPython'; readonly tried: readonly string[]; readonly found: readonly string[]; readonly fromSetting: boolean }
  /** A Python ≥ 3.11 without the venv module (or ensurepip). */
  | { readonly kind: 'noVenv'; readonly python: string; readonly version: string }
  | { readonly kind: 'noCompiler'; readonly tail: readonly string[] }
  | { readonly kind: 'noCmake'; readonly tail: readonly string[] }
  | { readonly kind: 'noCuda'; readonly tail: readonly string[] }
  | { readonly kind: 'network'; readonly tail: readonly string[] }
  | { readonly kind: 'diskFull'; readonly tail: readonly string[] }
  /** A step failed for another reason: its exit code and last lines of output. */
  | { readonly kind: 'stepFailed'; readonly step: Step; readonly code: number | null; readonly tail: readonly string[] };

/**
 * The first candidate that is Python ≥ 3.11 with venv, or the problem. `probes` holds one entry per candidate
 * in order, undefined where the program did not run (not on PATH, a pyenv shim for a version not selected).
 */
export function choosePython(
  candidates: readonly string[],
  probes: readonly (PythonProbe | undefined)[],
  fromSetting: boolean,
): PythonProbe | InstallProblem {
  const ran = probes.filter((probe): probe is PythonProbe => probe !== undefined);
  const supported = ran.filter((probe) => isSupported(probe.version));
  const usable = supported.find((probe) => probe.venv);
  if (usable !== undefined) {
    return usable;
  }
  const withoutVenv = supported[0];
  if (withoutVenv !== undefined) {
    return { kind: 'noVenv', python: withoutVenv.candidate, version: versionText(withoutVenv.version) };
  }
  return { kind: 'noPython', tried: candidates, found: ran.map((probe) => `${probe.candidate} ${versionText(probe.version)}`), fromSetting };
}

/** The interpreter inside a virtual environment. */
export function venvPython(venv: string, platform: string): string {
  return platform === 'win32' ? `${venv}\\Scripts\\python.exe` : `${venv}/bin/python`;
}

/** How llama-cpp-python is built. */
export type Backend = 'cpu' | 'cuda' | 'metal';

export interface BackendChoice {
  readonly backend: Backend;
  readonly label: string;
  readonly detail: string;
}

const CHOICES: Readonly<Record<Backend, BackendChoice>> = {
  cpu: { backend: 'cpu', label: 'CPU', detail: 'works everywhere; needs a C/C++ compiler' },
  cuda: { backend: 'cuda', label: 'NVIDIA CUDA', detail: 'GPU offload; needs the CUDA toolkit (nvcc) — builds with CMAKE_ARGS="-DGGML_CUDA=on"' },
  metal: { backend: 'metal', label: 'Apple Metal', detail: 'GPU offload on Apple silicon — builds with CMAKE_ARGS="-DGGML_METAL=on"' },
};

/** The builds offered on `platform`, the usual one first. */
export function backendChoices(platform: string): BackendChoice[] {
  return platform === 'darwin' ? [CHOICES.metal, CHOICES.cpu] : [CHOICES.cpu, CHOICES.cuda];
}

export function backendLabel(backend: Backend): string {
  return CHOICES[backend].label;
}

const CMAKE_ARGS: Readonly<Record<Backend, string | undefined>> = { cpu: undefined, cuda: '-DGGML_CUDA=on', metal: '-DGGML_METAL=on' };

/** The environment pip runs in: the user's own (PIP_* settings, proxies) plus CMAKE_ARGS for a GPU build. */
export function installEnvironment(env: Readonly<Record<string, string | undefined>>, backend: Backend): Record<string, string | undefined> {
  const flag = CMAKE_ARGS[backend];
  const cmakeArgs = [env.CMAKE_ARGS, flag].filter((part) => part !== undefined && part !== '').join(' ');
  return { ...env, PYTHONUNBUFFERED: '1', PIP_NO_INPUT: '1', ...(cmakeArgs === '' ? {} : { CMAKE_ARGS: cmakeArgs }) };
}

export type Step = 'probe' | 'venv' | 'pip' | 'verify';

export interface StepCommand {
  readonly step: Step;
  readonly command: string;
  readonly args: readonly string[];
  /** What the progress notification says while it runs. */
  readonly title: string;
}

const PIP = ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off'];

/**
 * The steps of a fresh install: create the environment, install the wheel with its dependencies, check that
 * the server and llama.cpp import. A GPU build skips pip's wheel cache, which would hand back a CPU build.
 */
export function installSteps(python: PythonProbe, venv: string, wheel: string, backend: Backend, platform: string): StepCommand[] {
  const inVenv = venvPython(venv, platform);
  const noCache = backend === 'cpu' ? [] : ['--no-cache-dir'];
  return [
    { step: 'venv', command: python.executable, args: ['-m', 'venv', venv], title: `creating a Python ${versionText(python.version)} environment` },
    {
      step: 'pip',
      command: inVenv,
      args: [...PIP, ...noCache, wheel],
      title: `installing infill-ls and llama-cpp-python (${backendLabel(backend)}); llama-cpp-python compiles from source, which takes several minutes`,
    },
    verifyStep(inVenv),
  ];
}

/** The steps that move an installed environment to a newer wheel: the package itself, then any new dependency. */
export function upgradeSteps(venv: string, wheel: string, backend: Backend, platform: string): StepCommand[] {
  const inVenv = venvPython(venv, platform);
  const noCache = backend === 'cpu' ? [] : ['--no-cache-dir'];
  return [
    { step: 'pip', command: inVenv, args: [...PIP, '--force-reinstall', '--no-deps', wheel], title: 'upgrading infill-ls' },
    { step: 'pip', command: inVenv, args: [...PIP, ...noCache, wheel], title: 'checking its dependencies' },
    verifyStep(inVenv),
  ];
}

function verifyStep(python: string): StepCommand {
  return { step: 'verify', command: python, args: ['-c', 'import llama_cpp, infill_ls.cli'], title: 'checking the server' };
}

/** A short progress message for one line of pip's output, or undefined for lines not worth showing. */
export function pipProgress(line: string): string | undefined {
  const text = line.trim();
  let match = /^Collecting (\S+)/.exec(text);
  if (match?.[1] !== undefined) {
    return `collecting ${match[1]}`;
  }
  match = /^Building wheel for (\S+)/.exec(text);
  if (match?.[1] !== undefined) {
    return match[1].startsWith('llama') ? `compiling ${match[1]} (several minutes)` : `building ${match[1]}`;
  }
  if (text.startsWith('Installing collected packages')) {
    return 'installing packages';
  }
  return undefined;
}

/** Output patterns of known causes, most specific first. */
const CAUSES: readonly [InstallProblem['kind'], RegExp][] = [
  ['diskFull', /No space left on device/],
  ['noCuda', /Could NOT find CUDAToolkit|CUDA Toolkit not found|No CMAKE_CUDA_COMPILER could be found|nvcc: (command )?not found/i],
  [
    'noCompiler',
    /No CMAKE_(?:C|CXX)_COMPILER could be found|CMAKE_(?:C|CXX)_COMPILER not set|command '(?:gcc|cc|g\+\+|c\+\+|clang)' failed|\b(?:gcc|cc|g\+\+|c\+\+|clang): (?:command )?not found|Microsoft Visual C\+\+ [\d.]+ or greater is required|xcrun: error: invalid active developer path/,
  ],
  ['noCmake', /\bcmake: (?:command )?not found|CMake is not installed|Could not find (?:a )?cmake/i],
  [
    'network',
    /No matching distribution found|Could not find a version that satisfies|Failed to establish a new connection|Temporary failure in name resolution|Network is unreachable|ConnectTimeoutError|ReadTimeoutError|ProxyError|CERTIFICATE_VERIFY_FAILED/,
  ],
];

/** What a failed step means, from its exit code and the end of its output. */
export function classifyFailure(step: Step, code: number | null, tail: readonly string[], python?: PythonProbe): InstallProblem {
  const text = tail.join('\n');
  if (step === 'venv' && /ensurepip is not available|No module named (?:venv|ensurepip)|python3(?:\.\d+)?-venv/.test(text)) {
    return { kind: 'noVenv', python: python?.candidate ?? 'python3', version: python === undefined ? '' : versionText(python.version) };
  }
  for (const [kind, pattern] of CAUSES) {
    if (pattern.test(text)) {
      return { kind, tail } as InstallProblem;
    }
  }
  return { kind: 'stepFailed', step, code, tail };
}

/** The lines of output worth quoting in a message: the last non-empty ones, at most `count`. */
export function lastLines(tail: readonly string[], count: number): string[] {
  return tail.map((line) => line.trimEnd()).filter((line) => line.trim() !== '' && !/^\s*WARNING: Location /.test(line)).slice(-count);
}

const STEP_NAMES: Readonly<Record<Step, string>> = {
  probe: 'finding Python',
  venv: 'creating the environment',
  pip: 'pip install',
  verify: 'starting the installed server',
};

function quoted(tail: readonly string[]): string {
  const lines = lastLines(tail, 3);
  return lines.length === 0 ? '' : ` Last output: ${lines.join(' ⏎ ')}`;
}

/** The message (why, and how to fix it) and buttons for a failed install. */
export function describeInstallProblem(problem: InstallProblem): ProblemMessage {
  const prefix = 'infill: installing the server failed: ';
  switch (problem.kind) {
    case 'noWheel':
      return {
        message: `${prefix}this build of the extension carries no infill-ls wheel (${problem.folder}). ` +
          'Build it with `npm run package:wheel` before packaging, or install infill-ls yourself.',
        actions: ['installHelp', 'showLog'],
      };
    case 'noPython': {
      const found = problem.found.length === 0 ? 'none of them runs' : `found ${problem.found.join(', ')}`;
      const where = problem.fromSetting ? `infill.server.installPython (${problem.tried.join(', ')})` : problem.tried.join(', ');
      return {
        message: `${prefix}no Python ≥ ${MIN_PYTHON.join('.')} was found (tried ${where}; ${found}). Install Python 3.11 or newer ` +
          '(python.org; Debian/Ubuntu: `sudo apt install python3.11 python3.11-venv`; macOS: `brew install python@3.12`), ' +
          'or set infill.server.installPython to one, then Retry.',
        actions: ['retry', 'openInstallSettings', 'showLog'],
      };
    }
    case 'noVenv':
      return {
        message: `${prefix}${problem.python}${problem.version === '' ? '' : ` (${problem.version})`} cannot create virtual environments ` +
          `(no venv/ensurepip module). Install it (Debian/Ubuntu: \`sudo apt install python3${problem.version === '' ? '' : `.${problem.version.split('.')[1] ?? ''}`}-venv\`), ` +
          'or set infill.server.installPython to another Python ≥ 3.11, then Retry.',
        actions: ['retry', 'openInstallSettings', 'showLog'],
      };
    case 'noCompiler':
      return {
        message: `${prefix}llama-cpp-python is compiled from source and no C/C++ compiler was found. Install one ` +
          '(Debian/Ubuntu: `sudo apt install build-essential cmake`; Fedora: `sudo dnf install gcc-c++ cmake`; ' +
          'macOS: `xcode-select --install`; Windows: Visual Studio Build Tools, "Desktop development with C++"), then Retry.' +
          quoted(problem.tail),
        actions: ['retry', 'showLog'],
      };
    case 'noCmake':
      return {
        message: `${prefix}llama-cpp-python is compiled with CMake, which was not found. Install it ` +
          '(`sudo apt install cmake`, `brew install cmake`, or `pip install cmake`), then Retry.' + quoted(problem.tail),
        actions: ['retry', 'showLog'],
      };
    case 'noCuda':
      return {
        message: `${prefix}the CUDA build of llama-cpp-python needs the NVIDIA CUDA toolkit (nvcc), which was not found. ` +
          'Install it and put nvcc on PATH, or Retry and choose CPU.' + quoted(problem.tail),
        actions: ['retry', 'showLog'],
      };
    case 'network':
      return {
        message: `${prefix}pip could not download the dependencies. Check the network connection and pip's index or proxy ` +
          'settings (`pip config list`), then Retry.' + quoted(problem.tail),
        actions: ['retry', 'showLog'],
      };
    case 'diskFull':
      return { message: `${prefix}the disk is full. Free some space (the build needs about 1 GB), then Retry.`, actions: ['retry', 'showLog'] };
    case 'stepFailed':
      return {
        message: `${prefix}${STEP_NAMES[problem.step]} exited with ${problem.code === null ? 'a signal' : `code ${problem.code}`}.` +
          `${quoted(problem.tail)} The log has the whole output.`,
        actions: ['showLog', 'retry'],
      };
  }
}

/** Written last, next to the environment: which wheel it holds and how llama-cpp-python was built. */
export interface InstallStamp {
  /** The wheel's file name (it carries the version). */
  readonly wheel: string;
  /** The wheel's sha256, so that a rebuilt wheel of the same version upgrades too. */
  readonly sha256: string;
  readonly backend: Backend;
  readonly python: string;
}

export function parseStamp(text: string | undefined): InstallStamp | undefined {
  if (text === undefined) {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const { wheel, sha256, backend, python } = value;
    if (typeof wheel === 'string' && typeof sha256 === 'string' && (backend === 'cpu' || backend === 'cuda' || backend === 'metal') && typeof python === 'string') {
      return { wheel, sha256, backend, python };
    }
  } catch {
    // not a stamp: treated as no install
  }
  return undefined;
}

/** The state of the managed environment against the bundled wheel. */
export function installState(stamp: InstallStamp | undefined, wheel: { readonly name: string; readonly sha256: string } | undefined): 'none' | 'current' | 'outdated' {
  if (stamp === undefined) {
    return 'none';
  }
  return wheel === undefined || (stamp.wheel === wheel.name && stamp.sha256 === wheel.sha256) ? 'current' : 'outdated';
}

/** The infill-ls wheel among the files of the extension's `server/` folder (the newest name when several). */
export function bundledWheel(files: readonly string[]): string | undefined {
  return files.filter((name) => /^infill_ls-[^-]+-.+\.whl$/.test(name)).sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop();
}

/** The version in a wheel's file name (`infill_ls-0.1.0-py3-none-any.whl` → `0.1.0`). */
export function wheelVersion(name: string): string {
  return name.split('-')[1] ?? '';
}
