/**
 * The first run without a server, in the stand-in `vscode` module: the extension offers to install infill-ls,
 * installs it for real (python -m venv + pip, from the wheel built like `npm run package:wheel`) into a temp
 * global storage, starts it and serves ghost text; finds it again at the next start; upgrades it when the
 * wheel changes; and says why when an install cannot work (Python 3.10, no Python, no C compiler).
 *
 * pip runs with the user's own configuration and cache, so llama-cpp-python's wheel comes from pip's cache
 * when it was built before (else it compiles, for minutes).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { JsonObject } from '../../src/core/settings';
import { CancellationTokenSource, document, type EventEmitter, fake, type FakeDocument, InlineCompletionItem, InlineCompletionTriggerKind, Memento, Position, Uri } from '../helpers/fakeVscode';
import { loadExtension } from '../helpers/loadExtension';
import { defaultSection, EXTENSION_ROOT, merged } from '../helpers/manifest';
import { buildTinyModel, pythonPath } from '../helpers/server';
import { statusBar, until } from '../helpers/wait';

const skip = process.env.INFILL_SKIP_INTEGRATION === '1' ? 'INFILL_SKIP_INTEGRATION=1' : false;
/** A real install: pip resolves the dependencies (from its cache when it can). */
const INSTALL = { timeout: 900_000 };
const SLOW = { timeout: 120_000 };

const message = (pattern: RegExp): Promise<unknown> =>
  until(fake.onMessage as EventEmitter<unknown>, () => fake.messages.find((m) => pattern.test(m.message)), (found) => found !== undefined);

let tmp = '';
let model = '';
/** A folder that stands for the installed extension: server/infill_ls-*.whl. */
let extensionDir = '';
const originalPath = process.env.PATH;

/** PATH without any folder that has an `infill-ls` (the developer's venv), so that nothing is found. */
function pathWithoutServer(): string {
  return (originalPath ?? '').split(path.delimiter).filter((dir) => dir !== '' && !fs.existsSync(path.join(dir, 'infill-ls'))).join(path.delimiter);
}

before(() => {
  if (skip !== false) {
    return;
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-vscode-install-'));
  model = buildTinyModel(tmp);
  extensionDir = path.join(tmp, 'extension');
  execFileSync(process.execPath, [path.join(EXTENSION_ROOT, 'scripts', 'wheel.mjs'), path.join(extensionDir, 'server')], {
    env: { ...process.env, INFILL_PYTHON: pythonPath() },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  process.env.PATH = pathWithoutServer();
});

after(() => {
  process.env.PATH = originalPath;
  if (tmp !== '') {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

interface Session {
  dispose(): Promise<void>;
}

function activate(section: JsonObject, storage: string, documents: FakeDocument[] = []): Session {
  fake.section = section;
  fake.textDocuments = documents;
  fake.messages = [];
  fake.log = [];
  fake.progress = [];
  fake.statusBar.text = '';
  const extension = loadExtension();
  const context = { subscriptions: [] as { dispose(): unknown }[], extensionUri: Uri.file(extensionDir), globalStorageUri: Uri.file(storage), globalState: new Memento() };
  extension.activate(context);
  return {
    dispose: async () => {
      await extension.deactivate();
      for (const item of context.subscriptions) {
        item.dispose();
      }
    },
  };
}

function command(id: string): () => Promise<unknown> {
  const run = fake.commands.get(id);
  assert.ok(run, id);
  return run as () => Promise<unknown>;
}

const logText = (): string => fake.log.join('\n');
/** The installer's progress notifications (the server's own, "loading …", go through withProgress too). */
const installProgress = (): string[] => fake.progress.filter((line) => /^infill: (?:installing|upgrading) the server/.test(line));

describe('no server configured or found: the extension installs it', { skip }, () => {
  let storage = '';
  const settings = (): JsonObject => merged(defaultSection(), { model: { path: model }, completion: { debounceMs: 0 } });

  before(() => {
    storage = path.join(tmp, 'storage');
  });

  it('offers to install; "Install" installs into the global storage with progress, starts it, and serves ghost text', INSTALL, async () => {
    fake.answer = (_text, items) => (items.includes('Install') ? 'Install' : undefined);
    const doc = document('/tmp/infill-install/example.py', 'python', 'def add(a, b):\n    return ');
    const session = activate(settings(), storage, [doc]);
    try {
      await statusBar('$(sparkle) infill');
      const offer = fake.messages[0];
      assert.equal(offer?.level, 'error');
      assert.match(offer.message, /server is not installed/);
      assert.deepEqual(offer.items, ['Install', 'Open Settings', 'How to Install']);
      assert.ok(fake.messages.some((m) => m.level === 'info' && /the server is installed \(infill-ls 0\.1\.0, Python 3\.\d+\.\d+, CPU build\)/.test(m.message)), JSON.stringify(fake.messages));
      assert.equal(fake.messages.filter((m) => m.level === 'error').length, 1, JSON.stringify(fake.messages));
      // The progress notification names each step and says that the compile takes minutes.
      assert.deepEqual(installProgress().slice(0, 2), ['infill: installing the server', 'infill: installing the server: finding Python ≥ 3.11']);
      for (const step of [/finding Python/, /creating a Python 3\.\d+\.\d+ environment/, /llama-cpp-python compiles from source, which takes several minutes/, /checking the server/]) {
        assert.ok(installProgress().some((line) => step.test(line)), `${step.source}\n${fake.progress.join('\n')}`);
      }
      const python = path.join(storage, 'server', 'venv', 'bin', 'python');
      assert.ok(logText().includes(`starting ${python} -m infill_ls serve`), logText());
      const stamp = JSON.parse(fs.readFileSync(path.join(storage, 'server', 'installed.json'), 'utf8')) as Record<string, string>;
      assert.equal(stamp.wheel, 'infill_ls-0.1.0-py3-none-any.whl');
      assert.equal(stamp.backend, 'cpu');
      // Ghost text from the installed server.
      const provider = fake.inlineProviders.at(-1)?.provider.provideInlineCompletionItems as (...args: unknown[]) => Promise<unknown>;
      const result = await provider(doc, new Position(1, 11), { triggerKind: InlineCompletionTriggerKind.Invoke }, new CancellationTokenSource().token);
      // An Invoked trigger: the greedy item and up to two sampled ones (infill.completion.alternatives, default 3).
      assert.ok(Array.isArray(result) && result.length >= 1 && result.length <= 3, JSON.stringify(result));
      assert.ok(result.every((item) => item instanceof InlineCompletionItem), JSON.stringify(result));
    } finally {
      fake.answer = () => undefined;
      await session.dispose();
    }
  });

  it('at the next start the installed server is found without asking', SLOW, async () => {
    const session = activate(settings(), storage);
    try {
      await statusBar('$(sparkle) infill');
      assert.deepEqual(fake.messages, []);
      assert.deepEqual(installProgress(), []);
      assert.ok(logText().includes(`starting ${path.join(storage, 'server', 'venv', 'bin', 'python')} -m infill_ls serve`), logText());
    } finally {
      await session.dispose();
    }
  });

  it('a new wheel in the extension upgrades the environment before the start', INSTALL, async () => {
    const stampFile = path.join(storage, 'server', 'installed.json');
    const stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as Record<string, string>;
    fs.writeFileSync(stampFile, JSON.stringify({ ...stamp, wheel: 'infill_ls-0.0.9-py3-none-any.whl', sha256: 'older' }));
    const session = activate(settings(), storage);
    try {
      await statusBar('$(sparkle) infill');
      assert.equal(installProgress()[0], 'infill: upgrading the server');
      assert.ok(logText().includes('--force-reinstall --no-deps'), logText());
      const upgraded = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as Record<string, string>;
      assert.deepEqual(upgraded, stamp);
      assert.deepEqual(fake.messages, []);
    } finally {
      await session.dispose();
    }
  });
});

describe('Install or Repair with the installed server running', { skip }, () => {
  it('stops the server, builds a fresh environment, and starts it again', INSTALL, async () => {
    const storage = path.join(tmp, 'storage');
    const marker = path.join(storage, 'server', 'venv', 'left-over');
    const session = activate(merged(defaultSection(), { model: { path: model }, completion: { debounceMs: 0 } }), storage);
    try {
      await statusBar('$(sparkle) infill');
      fs.writeFileSync(marker, '');
      const stops = (): number => fake.log.filter((line) => line.includes('starting ')).length;
      const before = stops();
      await command('infill.installServer')();
      await statusBar('$(sparkle) infill');
      assert.equal(fs.existsSync(marker), false, 'the old environment was kept');
      assert.equal(stops(), before + 1);
      assert.equal(installProgress()[0], 'infill: installing the server');
      assert.deepEqual(fake.messages.map((m) => m.level), ['info']);
    } finally {
      await session.dispose();
    }
  });
});

describe('an install that cannot work says why, and leaves nothing behind', { skip }, () => {
  /** Runs "infill: Install or Repair the Server" with `section`, and returns the error it shows. */
  async function failedInstall(section: JsonObject, storage: string): Promise<{ message: string; items: string[] }> {
    const session = activate(section, storage);
    try {
      await statusBar('$(error) infill');
      await command('infill.installServer')();
      await message(/installing the server failed/);
      const shown = fake.messages.find((m) => m.message.includes('installing the server failed'));
      assert.ok(shown);
      assert.equal(shown.level, 'error');
      assert.equal(fs.existsSync(path.join(storage, 'server', 'installed.json')), false, 'a stamp was written');
      assert.equal(fs.existsSync(path.join(storage, 'server', 'venv')), false, 'a half-made environment was left');
      return shown;
    } finally {
      await session.dispose();
    }
  }

  it('a Python 3.10 (infill.server.installPython)', SLOW, async () => {
    const python = path.join(tmp, 'python3.10');
    fs.writeFileSync(python, `#!/bin/sh\necho '{"version": [3, 10, 13], "executable": "${python}", "venv": true}'\n`, { mode: 0o755 });
    fake.executed = [];
    fake.answer = (_text, items) => (items.includes('Retry') ? 'Retry' : undefined);
    let shown: { message: string; items: string[] };
    try {
      shown = await failedInstall(merged(defaultSection(), { server: { installPython: python } }), path.join(tmp, 'storage-310'));
    } finally {
      fake.answer = () => undefined;
    }
    // "Retry" runs the command again (which asks for the build again and starts the server after).
    await until(fake.onMessage as EventEmitter<unknown>, () => fake.executed, (ids) => ids.includes('infill.installServer'));
    assert.match(shown.message, new RegExp(`no Python ≥ 3\\.11 was found \\(tried infill\\.server\\.installPython \\(${python}\\); found ${python} 3\\.10\\.13\\)`));
    assert.match(shown.message, /Install Python 3\.11 or newer/);
    assert.deepEqual(shown.items, ['Retry', 'Open Settings', 'Show Log']);
  });

  it('no Python on PATH at all', SLOW, async () => {
    const empty = path.join(tmp, 'empty-bin');
    fs.mkdirSync(empty, { recursive: true });
    process.env.PATH = empty;
    try {
      const shown = await failedInstall(defaultSection(), path.join(tmp, 'storage-none'));
      assert.match(shown.message, /no Python ≥ 3\.11 was found \(tried python3\.13, python3\.12, python3\.11, python3; none of them runs\)/);
    } finally {
      process.env.PATH = pathWithoutServer();
    }
  });

  it('cancelled while pip runs: the process is stopped and the environment removed, with no error', SLOW, async () => {
    const python = path.join(tmp, 'python-slow-pip');
    fs.writeFileSync(
      python,
      `#!/bin/sh\nif [ "$1" = -c ]; then echo '{"version": [3, 11, 9], "executable": "${python}", "venv": true}'; exit 0; fi\n` +
        `if [ "$2" = venv ]; then mkdir -p "$3/bin" && printf '#!/bin/sh\\nexec sleep 60\\n' > "$3/bin/python" && chmod +x "$3/bin/python"; exit 0; fi\nexit 2\n`,
      { mode: 0o755 },
    );
    const storage = path.join(tmp, 'storage-cancel');
    const session = activate(merged(defaultSection(), { server: { installPython: python } }), storage);
    try {
      await statusBar('$(error) infill');
      const errors = fake.messages.length;
      const installing = command('infill.installServer')();
      await until(fake.onProgress as EventEmitter<unknown>, () => installProgress().some((line) => line.includes('installing infill-ls')), Boolean);
      assert.ok(fs.existsSync(path.join(storage, 'server', 'venv', 'bin', 'python')));
      fake.cancelProgress();
      await installing;
      assert.equal(fs.existsSync(path.join(storage, 'server', 'venv')), false, 'a half-made environment was left');
      assert.equal(fs.existsSync(path.join(storage, 'server', 'installed.json')), false);
      assert.equal(fake.messages.length, errors, JSON.stringify(fake.messages));
      assert.ok(fake.log.some((line) => line.includes('installing the server: cancelled')), logText());
    } finally {
      await session.dispose();
    }
  });

  it('no C compiler: pip fails to build llama-cpp-python, and the environment is removed', SLOW, async () => {
    // A stand-in Python: answers the probe, "creates" a venv whose python fails the way pip does without a compiler.
    const python = path.join(tmp, 'python-no-cc');
    const failingPip = '#!/bin/sh\necho "  CMake Error at CMakeLists.txt:3 (project):"\necho "    No CMAKE_C_COMPILER could be found." >&2\necho "ERROR: Failed building wheel for llama-cpp-python" >&2\nexit 1\n';
    fs.writeFileSync(
      python,
      `#!/bin/sh\nif [ "$1" = -c ]; then echo '{"version": [3, 11, 9], "executable": "${python}", "venv": true}'; exit 0; fi\n` +
        `if [ "$2" = venv ]; then mkdir -p "$3/bin" && cat > "$3/bin/python" <<'EOF'\n${failingPip}EOF\nchmod +x "$3/bin/python"; exit 0; fi\nexit 2\n`,
      { mode: 0o755 },
    );
    const shown = await failedInstall(merged(defaultSection(), { server: { installPython: python } }), path.join(tmp, 'storage-nocc'));
    assert.match(shown.message, /no C\/C\+\+ compiler was found/);
    assert.match(shown.message, /build-essential/);
    assert.match(shown.message, /Last output: .*No CMAKE_C_COMPILER could be found\./);
    assert.deepEqual(shown.items, ['Retry', 'Show Log']);
    assert.ok(logText().includes('ERROR: Failed building wheel for llama-cpp-python'), 'pip output is in the log');
  });
});
