import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backendChoices,
  bundledWheel,
  choosePython,
  classifyFailure,
  describeInstallProblem,
  type InstallProblem,
  installEnvironment,
  installState,
  installSteps,
  parseProbe,
  parseStamp,
  pipProgress,
  pythonCandidates,
  type PythonProbe,
  upgradeSteps,
  venvPython,
} from '../../src/core/install';

const probe = (candidate: string, version: [number, number, number], venv = true): PythonProbe => ({
  candidate,
  executable: `/usr/bin/${candidate}`,
  version,
  venv,
});

describe('Python candidates', () => {
  const cases: [string, string, string, string[]][] = [
    ['linux, no setting', '', 'linux', ['python3.13', 'python3.12', 'python3.11', 'python3']],
    ['macOS, no setting', '', 'darwin', ['python3.13', 'python3.12', 'python3.11', 'python3']],
    ['Windows also tries python', '', 'win32', ['python3.13', 'python3.12', 'python3.11', 'python3', 'python']],
    ['the setting alone', '/opt/py/bin/python3.12', 'linux', ['/opt/py/bin/python3.12']],
  ];
  for (const [name, setting, platform, expected] of cases) {
    it(name, () => {
      assert.deepEqual(pythonCandidates(setting, platform), expected);
    });
  }
});

describe('probe output', () => {
  const cases: [string, string, PythonProbe | undefined][] = [
    ['3.11 with venv', '{"version": [3, 11, 7], "executable": "/usr/bin/python3.11", "venv": true}\n', { candidate: 'py', executable: '/usr/bin/python3.11', version: [3, 11, 7], venv: true }],
    ['without venv', '{"version": [3, 12, 1], "executable": "/x", "venv": false}', { candidate: 'py', executable: '/x', version: [3, 12, 1], venv: false }],
    ['noise before the JSON line', 'sitecustomize says hi\n{"version": [3, 13, 0], "executable": "/y", "venv": true}', { candidate: 'py', executable: '/y', version: [3, 13, 0], venv: true }],
    ['a pyenv shim message', 'pyenv: python3.13: command not found', undefined],
    ['empty', '', undefined],
    ['a version of the wrong shape', '{"version": [3, 11], "executable": "/z", "venv": true}', undefined],
  ];
  for (const [name, stdout, expected] of cases) {
    it(name, () => {
      assert.deepEqual(parseProbe('py', stdout), expected);
    });
  }
});

describe('choosing a Python', () => {
  const tried = ['python3.13', 'python3.12', 'python3.11', 'python3'];
  const cases: [string, (PythonProbe | undefined)[], boolean, PythonProbe | InstallProblem][] = [
    ['the first that runs and is new enough', [undefined, probe('python3.12', [3, 12, 1]), probe('python3.11', [3, 11, 7])], false, probe('python3.12', [3, 12, 1])],
    ['python3 when it is 3.11', [undefined, undefined, undefined, probe('python3', [3, 11, 2])], false, probe('python3', [3, 11, 2])],
    ['skips a 3.11 without venv for a later one with it', [undefined, undefined, probe('python3.11', [3, 11, 2], false), probe('python3', [3, 12, 0])], false, probe('python3', [3, 12, 0])],
    ['only 3.10', [undefined, undefined, undefined, probe('python3', [3, 10, 13])], false, { kind: 'noPython', tried, found: ['python3 3.10.13'], fromSetting: false }],
    ['nothing runs', [undefined, undefined, undefined, undefined], false, { kind: 'noPython', tried, found: [], fromSetting: false }],
    ['3.11 without venv only', [undefined, undefined, probe('python3.11', [3, 11, 2], false), probe('python3', [3, 9, 2])], false, { kind: 'noVenv', python: 'python3.11', version: '3.11.2' }],
    ['Python 4 counts as new enough', [undefined, undefined, undefined, probe('python3', [4, 0, 0])], false, probe('python3', [4, 0, 0])],
  ];
  for (const [name, probes, fromSetting, expected] of cases) {
    it(name, () => {
      assert.deepEqual(choosePython(tried, probes, fromSetting), expected);
    });
  }
});

describe('command lines', () => {
  const python = probe('python3.11', [3, 11, 7]);
  const pip = ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off'];

  it('venv python per platform', () => {
    assert.equal(venvPython('/s/venv', 'linux'), '/s/venv/bin/python');
    assert.equal(venvPython('C:\\s\\venv', 'win32'), 'C:\\s\\venv\\Scripts\\python.exe');
  });

  const cases: [string, 'cpu' | 'cuda' | 'metal', string[][]][] = [
    ['CPU: pip may use its wheel cache', 'cpu', [
      ['/usr/bin/python3.11', '-m', 'venv', '/s/venv'],
      ['/s/venv/bin/python', ...pip, '/x/infill_ls-0.1.0-py3-none-any.whl'],
      ['/s/venv/bin/python', '-c', 'import llama_cpp, infill_ls.cli'],
    ]],
    ['CUDA: no cache, which would hand back a CPU build', 'cuda', [
      ['/usr/bin/python3.11', '-m', 'venv', '/s/venv'],
      ['/s/venv/bin/python', ...pip, '--no-cache-dir', '/x/infill_ls-0.1.0-py3-none-any.whl'],
      ['/s/venv/bin/python', '-c', 'import llama_cpp, infill_ls.cli'],
    ]],
  ];
  for (const [name, backend, expected] of cases) {
    it(`install, ${name}`, () => {
      const steps = installSteps(python, '/s/venv', '/x/infill_ls-0.1.0-py3-none-any.whl', backend, 'linux');
      assert.deepEqual(steps.map((step) => [step.command, ...step.args]), expected);
      assert.deepEqual(steps.map((step) => step.step), ['venv', 'pip', 'verify']);
      assert.match(steps[1]?.title ?? '', /compiles from source, which takes several minutes/);
    });
  }

  it('upgrade: the package itself again, then its dependencies, then the check', () => {
    const steps = upgradeSteps('/s/venv', '/x/w.whl', 'cpu', 'linux');
    assert.deepEqual(steps.map((step) => [step.command, ...step.args]), [
      ['/s/venv/bin/python', ...pip, '--force-reinstall', '--no-deps', '/x/w.whl'],
      ['/s/venv/bin/python', ...pip, '/x/w.whl'],
      ['/s/venv/bin/python', '-c', 'import llama_cpp, infill_ls.cli'],
    ]);
  });

  const envCases: [string, Record<string, string>, 'cpu' | 'cuda' | 'metal', string | undefined][] = [
    ['CPU adds nothing', {}, 'cpu', undefined],
    ['CUDA', {}, 'cuda', '-DGGML_CUDA=on'],
    ['Metal', {}, 'metal', '-DGGML_METAL=on'],
    ["the user's own CMAKE_ARGS are kept", { CMAKE_ARGS: '-DGGML_NATIVE=off' }, 'cuda', '-DGGML_NATIVE=off -DGGML_CUDA=on'],
    ["the user's own CMAKE_ARGS on CPU", { CMAKE_ARGS: '-DGGML_NATIVE=off' }, 'cpu', '-DGGML_NATIVE=off'],
  ];
  for (const [name, env, backend, expected] of envCases) {
    it(`environment: ${name}`, () => {
      const out = installEnvironment({ PATH: '/bin', PIP_FIND_LINKS: '/w', ...env }, backend);
      assert.equal(out.CMAKE_ARGS, expected);
      assert.equal(out.PIP_FIND_LINKS, '/w');
      assert.equal(out.PATH, '/bin');
    });
  }

  it('offers the GPU build of the platform', () => {
    assert.deepEqual(backendChoices('linux').map((c) => c.label), ['CPU', 'NVIDIA CUDA']);
    assert.deepEqual(backendChoices('win32').map((c) => c.label), ['CPU', 'NVIDIA CUDA']);
    assert.deepEqual(backendChoices('darwin').map((c) => c.label), ['Apple Metal', 'CPU']);
  });
});

describe("pip's progress lines", () => {
  const cases: [string, string, string | undefined][] = [
    ['collecting', 'Collecting llama-cpp-python<0.4,>=0.3.36 (from infill-ls==0.1.0)', 'collecting llama-cpp-python<0.4,>=0.3.36'],
    ['the long compile is announced', '  Building wheel for llama-cpp-python (pyproject.toml): started', 'compiling llama-cpp-python (several minutes)'],
    ['another build', 'Building wheel for foo (pyproject.toml) ... done', 'building foo'],
    ['installing', 'Installing collected packages: typing-extensions, pygls', 'installing packages'],
    ['noise', 'WARNING: Location \'file:///opt/pypi/simple/pygls/\' is ignored', undefined],
    ['download sizes', '  Downloading pygls-2.1.1-py3-none-any.whl (120 kB)', undefined],
  ];
  for (const [name, line, expected] of cases) {
    it(name, () => {
      assert.equal(pipProgress(line), expected);
    });
  }
});

describe('failure causes', () => {
  const py = probe('python3.11', [3, 11, 2]);
  const cases: [string, 'venv' | 'pip' | 'verify', string[], InstallProblem['kind']][] = [
    ['Debian without python3-venv', 'venv', ['The virtual environment was not created successfully because ensurepip is not', 'available.  On Debian/Ubuntu systems, you need to install the python3-venv', 'package using the following command.'], 'noVenv'],
    ['no C compiler (CMake)', 'pip', ['  CMake Error at CMakeLists.txt:3 (project):', '    No CMAKE_C_COMPILER could be found.', '  ERROR: Failed building wheel for llama-cpp-python'], 'noCompiler'],
    ['no C++ compiler', 'pip', ['    No CMAKE_CXX_COMPILER could be found.'], 'noCompiler'],
    ['gcc failed to run', 'pip', ["error: command 'gcc' failed: No such file or directory"], 'noCompiler'],
    ['Xcode tools missing', 'pip', ['xcrun: error: invalid active developer path (/Library/Developer/CommandLineTools)'], 'noCompiler'],
    ['MSVC missing', 'pip', ['error: Microsoft Visual C++ 14.0 or greater is required.'], 'noCompiler'],
    ['no CUDA toolkit', 'pip', ['  -- Could NOT find CUDAToolkit (missing: CUDA_CUDART)', '  No CMAKE_CUDA_COMPILER could be found.'], 'noCuda'],
    ['no cmake', 'pip', ['/bin/sh: 1: cmake: not found'], 'noCmake'],
    ['offline', 'pip', ["  WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError(...: Failed to establish a new connection: [Errno 101] Network is unreachable')", 'ERROR: No matching distribution found for pygls<3,>=2.1'], 'network'],
    ['disk full', 'pip', ['ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device'], 'diskFull'],
    ['anything else', 'pip', ['ERROR: something odd'], 'stepFailed'],
    ['a server that does not import', 'verify', ['OSError: libcuda.so.1: cannot open shared object file'], 'stepFailed'],
  ];
  for (const [name, step, tail, kind] of cases) {
    it(name, () => {
      assert.equal(classifyFailure(step, 1, tail, py).kind, kind);
    });
  }
});

describe('failure messages say why and how to fix it', () => {
  const cases: [string, InstallProblem, RegExp[], string[]][] = [
    ['no Python', { kind: 'noPython', tried: ['python3.13', 'python3'], found: ['python3 3.10.13'], fromSetting: false },
      [/no Python ≥ 3\.11 was found \(tried python3\.13, python3; found python3 3\.10\.13\)/, /infill\.server\.installPython/], ['retry', 'openInstallSettings', 'showLog']],
    ['no Python at the setting', { kind: 'noPython', tried: ['/opt/py'], found: [], fromSetting: true },
      [/tried infill\.server\.installPython \(\/opt\/py\); none of them runs/], ['retry', 'openInstallSettings', 'showLog']],
    ['no venv', { kind: 'noVenv', python: 'python3.11', version: '3.11.2' }, [/python3\.11 \(3\.11\.2\) cannot create virtual environments/, /sudo apt install python3\.11-venv/], ['retry', 'openInstallSettings', 'showLog']],
    ['no compiler', { kind: 'noCompiler', tail: ['No CMAKE_C_COMPILER could be found.'] }, [/no C\/C\+\+ compiler was found/, /build-essential/, /xcode-select --install/, /Last output: No CMAKE_C_COMPILER/], ['retry', 'showLog']],
    ['no CUDA', { kind: 'noCuda', tail: [] }, [/CUDA toolkit/, /choose CPU/], ['retry', 'showLog']],
    ['pip error: exit code and last lines', { kind: 'stepFailed', step: 'pip', code: 2, tail: ['a', '', 'b', 'c', 'ERROR: d'] },
      [/pip install exited with code 2\. Last output: b ⏎ c ⏎ ERROR: d The log has the whole output\./], ['showLog', 'retry']],
    ['no wheel in the .vsix', { kind: 'noWheel', folder: '/ext/server' }, [/carries no infill-ls wheel \(\/ext\/server\)/, /npm run package:wheel/], ['installHelp', 'showLog']],
  ];
  for (const [name, problem, patterns, actions] of cases) {
    it(name, () => {
      const described = describeInstallProblem(problem);
      for (const pattern of patterns) {
        assert.match(described.message, pattern);
      }
      assert.deepEqual(described.actions, actions);
    });
  }
});

describe('the stamp decides what is installed', () => {
  const stamp = { wheel: 'infill_ls-0.1.0-py3-none-any.whl', sha256: 'aa', backend: 'cpu', python: '3.11.7' } as const;
  const cases: [string, string | undefined, { name: string; sha256: string } | undefined, 'none' | 'current' | 'outdated'][] = [
    ['no stamp: not installed (a half install is never used)', undefined, { name: stamp.wheel, sha256: 'aa' }, 'none'],
    ['a broken stamp', '{"wheel": 1', { name: stamp.wheel, sha256: 'aa' }, 'none'],
    ['the same wheel', JSON.stringify(stamp), { name: stamp.wheel, sha256: 'aa' }, 'current'],
    ['a new version', JSON.stringify(stamp), { name: 'infill_ls-0.2.0-py3-none-any.whl', sha256: 'bb' }, 'outdated'],
    ['the same version rebuilt', JSON.stringify(stamp), { name: stamp.wheel, sha256: 'bb' }, 'outdated'],
    ['no wheel in the .vsix: keep what is there', JSON.stringify(stamp), undefined, 'current'],
  ];
  for (const [name, text, wheel, expected] of cases) {
    it(name, () => {
      assert.equal(installState(parseStamp(text), wheel), expected);
    });
  }

  it('finds the wheel among other files, the newest when several', () => {
    assert.equal(bundledWheel(['README', 'infill_ls-0.1.0-py3-none-any.whl']), 'infill_ls-0.1.0-py3-none-any.whl');
    assert.equal(bundledWheel(['infill_ls-0.9.0-py3-none-any.whl', 'infill_ls-0.10.0-py3-none-any.whl']), 'infill_ls-0.10.0-py3-none-any.whl');
    assert.equal(bundledWheel(['other-1.0-py3-none-any.whl']), undefined);
  });
});
