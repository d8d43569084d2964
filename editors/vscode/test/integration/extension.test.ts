/**
 * The compiled extension, activated in a stand-in `vscode` module (test/helpers/fakeVscode.ts), with the
 * real vscode-languageclient and the real server: activation wiring, the server command, the status bar,
 * the middleware, cancellation, the commands, and the messages shown for failures.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { JsonObject } from '../../src/core/settings';
import {
  CancellationTokenSource,
  document,
  type EventEmitter,
  fake,
  type FakeDocument,
  InlineCompletionItem,
  InlineCompletionTriggerKind,
  Memento,
  Position,
  Range,
  Uri,
} from '../helpers/fakeVscode';
import { type ExtensionModule, loadExtension } from '../helpers/loadExtension';
import { defaultSection, EXTENSION_ROOT, merged } from '../helpers/manifest';
import { buildTinyModel, pythonPath } from '../helpers/server';
import { installLikeVsce } from '../helpers/vsix';
import { statusBar, until } from '../helpers/wait';

const skip = process.env.INFILL_SKIP_INTEGRATION === '1' ? 'INFILL_SKIP_INTEGRATION=1' : false;
const SLOW = { timeout: 120_000 };

function reset(section: JsonObject, documents: FakeDocument[]): void {
  fake.section = section;
  fake.textDocuments = documents;
  fake.messages = [];
  fake.calls = [];
  fake.log = [];
  fake.updates = [];
  fake.statusBar.text = '';
}

type Provide = (doc: FakeDocument, position: Position, context: object, token: object) => Promise<unknown>;

function inlineProvider(): Provide {
  const registered = fake.inlineProviders[0];
  assert.ok(registered, 'no inline completion provider registered');
  const provide = registered.provider.provideInlineCompletionItems;
  assert.equal(typeof provide, 'function');
  return provide as Provide;
}

const requestsSent = (): number => fake.log.filter((line) => line.includes("Sending request 'textDocument/inlineCompletion")).length;

let tmp = '';
let model = '';

before(() => {
  if (skip === false) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-vscode-ext-'));
    model = buildTinyModel(tmp);
  }
});

after(() => {
  if (tmp !== '') {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

function activate(
  section: JsonObject,
  documents: FakeDocument[],
  extensionRoot = EXTENSION_ROOT,
  globalState = new Memento(),
): { extension: ExtensionModule; dispose(): Promise<void> } {
  reset(section, documents);
  const extension = loadExtension();
  // An empty global storage: the extension has installed no server of its own.
  const globalStorageUri = Uri.file(fs.mkdtempSync(path.join(os.tmpdir(), 'infill-storage-')));
  const context = { subscriptions: [] as { dispose(): unknown }[], extensionUri: Uri.file(extensionRoot), globalState, globalStorageUri };
  extension.activate(context);
  return {
    extension,
    dispose: async () => {
      await extension.deactivate();
      for (const item of context.subscriptions) {
        item.dispose();
      }
    },
  };
}

describe('the extension with the real server', { skip }, () => {
  const python = document('/tmp/infill-ext/example.py', 'python', 'def add(a, b):\n    return ');
  const markdown = document('/tmp/infill-ext/notes.md', 'markdown', '# Notes\n\nSome ');
  let session: { extension: ExtensionModule; dispose(): Promise<void> };

  before(async () => {
    session = activate(merged(defaultSection(), { server: { pythonPath: pythonPath() }, model: { path: model }, completion: { debounceMs: 0 } }), [python, markdown]);
    await statusBar('$(sparkle) infill');
  }, SLOW);

  after(async () => {
    await session.dispose();
  }, SLOW);

  it('starts `<pythonPath> -m infill_ls serve` and shows no error', () => {
    assert.ok(fake.log.some((line) => line.includes(`starting ${pythonPath()} -m infill_ls serve`)), fake.log.join('\n'));
    assert.deepEqual(fake.messages, []);
    assert.match(fake.statusBar.tooltip, /infill: ready\.[\s\S]*tiny\.gguf/);
  });

  it("logs each of the server's records once, at its own level", () => {
    assert.equal(fake.log.filter((line) => line.includes('loaded tiny.gguf')).length, 1, fake.log.join('\n'));
    assert.deepEqual(fake.log.filter((line) => line.startsWith('[error]')), []);
  });

  it('registers its commands, and not the server\'s infill.accepted (vscode-languageclient does, from executeCommandProvider)', () => {
    for (const id of ['infill.restartServer', 'infill.showLog', 'infill.toggle', 'infill.downloadModel', 'infill.showStatistics',
      'infill.acceptNextWord', 'infill.acceptNextLine', 'infill.accepted']) {
      assert.ok(fake.commands.has(id), id);
    }
  });

  // VS Code cycles the items of one answer itself (Show Next/Previous Inline Suggestion): every item must reach it.
  for (const [trigger, kind, fewest, most] of [
    ['Invoke: the alternatives (infill.completion.alternatives, default 3), distinct', InlineCompletionTriggerKind.Invoke, 2, 3],
    ['Automatic: one item', InlineCompletionTriggerKind.Automatic, 1, 1],
  ] as const) {
    it(`serves ghost text through vscode-languageclient at the cursor; ${trigger}`, SLOW, async () => {
      const cursor = new Position(1, 11);
      const token = new CancellationTokenSource().token;
      const result = await inlineProvider()(python, cursor, { triggerKind: kind }, token);
      assert.ok(Array.isArray(result), JSON.stringify(result));
      assert.ok(result.length >= fewest && result.length <= most, JSON.stringify(result));
      const texts = new Set<string>();
      for (const item of result as unknown[]) {
        assert.ok(item instanceof InlineCompletionItem);
        assert.equal(typeof item.insertText, 'string');
        texts.add(item.insertText as string);
        assert.ok(item.range instanceof Range);
        assert.deepEqual([item.range.start, item.range.end], [cursor, cursor]);
      }
      assert.equal(texts.size, result.length, JSON.stringify(result));
    });
  }

  it('does not ask the server for a disabled language (markdown)', SLOW, async () => {
    const before = requestsSent();
    const token = new CancellationTokenSource().token;
    const result = await inlineProvider()(markdown, new Position(2, 5), { triggerKind: InlineCompletionTriggerKind.Invoke }, token);
    assert.deepEqual(result, []);
    assert.equal(requestsSent(), before);
  });

  it('sends no automatic request in a manual language (infill.completion.trigger), and follows a change at once, without a restart', SLOW, async () => {
    const setTrigger = (trigger: string): void => {
      const completion = fake.section.completion;
      assert.ok(completion !== null && typeof completion === 'object' && !Array.isArray(completion));
      completion.trigger = trigger;
      const key = 'infill.completion.trigger';
      fake.didChangeConfiguration.fire({ affectsConfiguration: (s: string) => key === s || key.startsWith(`${s}.`) });
    };
    const ask = (kind: number): Promise<unknown> =>
      inlineProvider()(python, new Position(1, 11), { triggerKind: kind }, new CancellationTokenSource().token);
    const starts = (): number => fake.log.filter((line) => line.includes('starting ')).length;
    const started = starts();
    setTrigger('manual');
    let before = requestsSent();
    assert.deepEqual(await ask(InlineCompletionTriggerKind.Automatic), []);
    assert.equal(requestsSent(), before, 'an automatic request was sent in a manual language');
    const invoked = await ask(InlineCompletionTriggerKind.Invoke);
    assert.ok(Array.isArray(invoked) && invoked.length > 0, 'the trigger key is still answered');
    assert.equal(requestsSent(), before + 1);
    setTrigger('auto');
    before = requestsSent();
    await ask(InlineCompletionTriggerKind.Automatic);
    assert.equal(requestsSent(), before + 1);
    assert.equal(starts(), started, 'the change restarted the server');
  });

  it('sends $/cancelRequest when VS Code cancels the token, and shows nothing', SLOW, async () => {
    const before = fake.log.length;
    const sent = requestsSent();
    const source = new CancellationTokenSource();
    const pending = inlineProvider()(python, new Position(1, 11), { triggerKind: InlineCompletionTriggerKind.Automatic }, source.token);
    // Cancel once the request is on its way, as VS Code does when the next keystroke comes.
    await until(fake.onLog as EventEmitter<unknown>, requestsSent, (n) => n > sent);
    source.cancel();
    const result = await pending;
    assert.ok(result === null || result === undefined || (Array.isArray(result) && result.length === 0), JSON.stringify(result));
    const lines = fake.log.slice(before);
    assert.ok(lines.some((line) => line.includes("Sending request 'textDocument/inlineCompletion")), lines.join('\n'));
    assert.ok(lines.some((line) => line.includes("Sending notification '$/cancelRequest'")), lines.join('\n'));
  });

  it('toggles completions off and on through the setting, and the status bar follows the server', SLOW, async () => {
    const toggle = fake.commands.get('infill.toggle');
    assert.ok(toggle);
    await toggle();
    assert.deepEqual(fake.updates, ['infill.completion.enable=false@1']);
    await statusBar('$(circle-slash) infill');
    const before = requestsSent();
    const result = await inlineProvider()(python, new Position(1, 11), { triggerKind: InlineCompletionTriggerKind.Invoke }, new CancellationTokenSource().token);
    assert.deepEqual(result, []);
    assert.equal(requestsSent(), before);
    await toggle();
    await statusBar('$(sparkle) infill');
  });

  it('restarts the server', SLOW, async () => {
    const restart = fake.commands.get('infill.restartServer');
    assert.ok(restart);
    const starts = (): number => fake.log.filter((line) => line.includes('starting ')).length;
    const before = starts();
    await restart();
    assert.equal(starts(), before + 1);
    await statusBar('$(sparkle) infill');
    assert.deepEqual(fake.messages, []);
  });
});

describe('a model without FIM tokens', { skip }, () => {
  it('warns once per model (remembered across window starts), then in the status tooltip', SLOW, async () => {
    const model = buildTinyModel(tmp, { fim: false });
    const globalState = new Memento();
    const section = merged(defaultSection(), { server: { pythonPath: pythonPath() }, model: { path: model } });
    const warned = (text: string): boolean => text.includes('tiny-nofim.gguf has no FIM tokens');
    for (const start of ['first', 'second']) {
      const session = activate(section, [], EXTENSION_ROOT, globalState);
      try {
        // The server's window/showMessage is shown, or traced as "server: …" (debug) when it was shown before;
        // either way the tooltip keeps it, and the log has it once, as the server's record (a warning).
        const handled = (): boolean => fake.messages.some((m) => warned(m.message)) || fake.log.some((line) => line.includes('] server: ') && warned(line));
        const recorded = (): boolean => fake.log.some((line) => line.startsWith('[warn] ') && warned(line));
        await until([fake.onLog, fake.onMessage] as EventEmitter<unknown>[], () => handled() && recorded(), Boolean);
        const toasts = fake.messages.filter((m) => warned(m.message)).map((m) => m.level);
        assert.deepEqual(toasts, start === 'first' ? ['warning'] : [], `${start} window start`);
        assert.ok(warned(fake.statusBar.tooltip), fake.statusBar.tooltip);
        const visible = fake.log.filter((line) => warned(line) && !line.startsWith('[debug]') && !line.startsWith('[trace]'));
        assert.equal(visible.length, 1, visible.join('\n'));
      } finally {
        await session.dispose();
      }
    }
  });
});

describe('failures are shown once, with buttons', { skip }, () => {
  it('no Python at infill.server.pythonPath', SLOW, async () => {
    const session = activate(merged(defaultSection(), { server: { pythonPath: '/nonexistent/bin/python' } }), []);
    try {
      await until(fake.onMessage as EventEmitter<unknown>, () => fake.messages.length, (n) => n > 0);
      assert.deepEqual(fake.messages.map((m) => [m.level, m.items]), [['error', ['Open Settings', 'How to Install']]]);
      assert.match(fake.messages[0]?.message ?? '', /Python was not found at "\/nonexistent\/bin\/python"/);
      await statusBar('$(error) infill');
    } finally {
      await session.dispose();
    }
  });

  // VS Code's User tab in a remote window shows no machine-scoped setting ("No Settings Found"); the Remote
  // tab shows them (issue 11, defect 4). Locally the User tab shows every scope.
  for (const [window, remoteName, command, args] of [
    ['a local window: the User settings, with the exact key', undefined, 'workbench.action.openSettings', ['infill.server.pythonPath']],
    ['a remote window: the Remote settings, with the exact key', 'ssh-remote', 'workbench.action.openRemoteSettings', [{ query: 'infill.server.pythonPath' }]],
  ] as const) {
    it(`"Open Settings" for a server setting, in ${window}`, SLOW, async () => {
      fake.remoteName = remoteName;
      fake.answer = (_message, items) => (items.includes('Open Settings') ? 'Open Settings' : undefined);
      const session = activate(merged(defaultSection(), { server: { pythonPath: '/nonexistent/bin/python' } }), []);
      try {
        await until(fake.onExecute as EventEmitter<unknown>, () => fake.calls.length, (n) => n > 0);
        assert.deepEqual(fake.calls, [{ id: command, args }]);
      } finally {
        fake.remoteName = undefined;
        fake.answer = undefined;
        await session.dispose();
      }
    });
  }

  it('a remote engine that does not answer: the status names it, and the error offers its setting, not a download', SLOW, async () => {
    // A port nothing listens on: connection refused, at once.
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => {
          resolve(free);
        });
      });
    });
    const url = `http://127.0.0.1:${String(port)}`;
    const session = activate(merged(defaultSection(), { server: { pythonPath: pythonPath() }, engine: { url, timeoutMs: 2000 } }), []);
    try {
      await statusBar('$(error) infill');
      // The settings reached the server: it reports the remote engine, which the tooltip names.
      assert.match(fake.statusBar.tooltip, new RegExp(`^infill: error\\.\\n(server|llama\\.cpp|OpenAI-style server) at 127\\.0\\.0\\.1:${String(port)}\\n`));
      await until(fake.onMessage as EventEmitter<unknown>, () => fake.messages.length, (n) => n > 0);
      const errors = fake.messages.filter((m) => m.level === 'error');
      assert.ok(errors.length > 0, JSON.stringify(fake.messages));
      for (const shown of errors) {
        assert.deepEqual(shown.items, ['Open Settings', 'Show Log'], shown.message);
        assert.ok(shown.message.includes(url), shown.message);
      }
    } finally {
      await session.dispose();
    }
  });

  it('clicking the red status item offers what fixes it (a quick pick), and does not toggle completions', SLOW, async () => {
    fake.quickPicks = [];
    fake.pick = (labels) => labels.find((label) => label === 'Restart Server');
    const session = activate(merged(defaultSection(), { server: { pythonPath: '/nonexistent/bin/python' } }), []);
    try {
      await statusBar('$(error) infill');
      assert.match(fake.statusBar.tooltip, /Click for the actions that fix it\./);
      const click = fake.statusBar.command;
      const id = typeof click === 'string' ? click : (click as { command: string }).command;
      const run = fake.commands.get(id);
      assert.ok(run, `the status item runs ${id}, which is not registered`);
      const shown = fake.messages.length;
      await run();
      assert.deepEqual(fake.quickPicks, [['Restart Server', 'Open Settings', 'How to Install', 'Show Log']]);
      assert.deepEqual(fake.updates, [], 'the click toggled completions');
      // Restart Server was picked: the server is started again, and fails again.
      assert.equal(fake.messages.length, shown + 1);
    } finally {
      fake.pick = (labels) => labels[0];
      await session.dispose();
    }
  });

  it('"How to Install" opens the README of the installed .vsix (vsce packages it as readme.md)', SLOW, async () => {
    const installed = path.join(tmp, 'installed-extension');
    const names = await installLikeVsce(installed);
    fake.answer = (_message, items) => (items.includes('How to Install') ? 'How to Install' : undefined);
    const session = activate(merged(defaultSection(), { server: { pythonPath: '/nonexistent/bin/python' } }), [], installed);
    try {
      await until(fake.onExecute as EventEmitter<unknown>, () => fake.calls.length, (n) => n > 0);
      const [call] = fake.calls;
      assert.equal(call?.id, 'markdown.showPreview');
      const uri = call.args[0];
      assert.ok(uri instanceof Uri);
      assert.ok(names.includes(path.relative(installed, uri.fsPath)), `${uri.fsPath} is not one of the packaged files ${names.join(', ')}`);
    } finally {
      fake.answer = undefined;
      await session.dispose();
    }
  });

  it('no model: the server\'s error once, with Download Model first', SLOW, async () => {
    const offline = process.env.HF_HUB_OFFLINE;
    process.env.HF_HUB_OFFLINE = '1';
    const session = activate(
      merged(defaultSection(), { server: { pythonPath: pythonPath() }, model: { repo: 'infill-test/nothing-GGUF', file: 'none.gguf' } }),
      [],
    );
    try {
      await statusBar('$(error) infill');
      await until(fake.onMessage as EventEmitter<unknown>, () => fake.messages.length, (n) => n > 0);
      assert.deepEqual(fake.messages.map((m) => [m.level, m.items]), [['error', ['Download Model', 'Open Settings', 'Show Log']]]);
      assert.match(fake.messages[0]?.message ?? '', /none\.gguf/);
      assert.match(fake.statusBar.tooltip, /none\.gguf/);
      // The server's own window/showMessage for the same failure is logged, not shown a second time.
      await until(fake.onLog as EventEmitter<unknown>, () => fake.log.some((line) => line.includes('server: infill-ls:')), Boolean);
      assert.equal(fake.messages.length, 1);
    } finally {
      if (offline === undefined) {
        delete process.env.HF_HUB_OFFLINE;
      } else {
        process.env.HF_HUB_OFFLINE = offline;
      }
      await session.dispose();
    }
  });

  it('a model file that does not load: Open Settings first', SLOW, async () => {
    const notAModel = path.join(tmp, 'not-a-model.gguf');
    fs.writeFileSync(notAModel, 'not a GGUF file\n');
    const session = activate(merged(defaultSection(), { server: { pythonPath: pythonPath() }, model: { path: notAModel } }), []);
    try {
      await statusBar('$(error) infill');
      await until(fake.onMessage as EventEmitter<unknown>, () => fake.messages.length, (n) => n > 0);
      assert.deepEqual(fake.messages.map((m) => [m.level, m.items]), [['error', ['Open Settings', 'Show Log']]]);
      assert.match(fake.messages[0]?.message ?? '', /infill\.model\.path = /);
    } finally {
      await session.dispose();
    }
  });

  it('Download Model runs `<pythonPath> -m infill_ls download REPO FILE` in a terminal, then restarts', SLOW, async () => {
    // A stand-in interpreter: "downloads" when asked to, and fails as a server (so there is no model yet).
    const script = path.join(tmp, 'python-download');
    fs.writeFileSync(script, '#!/bin/sh\nif [ "$3" = download ]; then echo "got $4 $5"; exit 0; fi\nexit 1\n', { mode: 0o755 });
    const session = activate(merged(defaultSection(), { server: { pythonPath: script }, model: { repo: 'org/Tiny-GGUF', file: 'tiny.Q4_0.gguf' } }), []);
    try {
      await statusBar('$(error) infill');
      const download = fake.commands.get('infill.downloadModel');
      assert.ok(download);
      const starts = fake.log.filter((line) => line.includes('starting ')).length;
      await download();
      const output = fake.terminals.get('infill: download model') ?? '';
      assert.match(output, new RegExp(`\\$ ${script} -m infill_ls download org/Tiny-GGUF tiny\\.Q4_0\\.gguf\\r\\n`));
      assert.match(output, /got org\/Tiny-GGUF tiny\.Q4_0\.gguf\r\n/);
      assert.match(output, /\[infill\] done\./);
      assert.ok(fake.messages.some((m) => m.level === 'info' && m.message === 'infill: downloaded tiny.Q4_0.gguf.'), JSON.stringify(fake.messages));
      assert.equal(fake.log.filter((line) => line.includes('starting ')).length, starts + 1, 'no restart after the download');
    } finally {
      await session.dispose();
    }
  });

  it('a server that exits at once', SLOW, async () => {
    const script = path.join(tmp, 'python-without-infill');
    fs.writeFileSync(script, '#!/bin/sh\necho "No module named infill_ls" >&2\nexit 1\n', { mode: 0o755 });
    const session = activate(merged(defaultSection(), { server: { pythonPath: script } }), []);
    try {
      await statusBar('$(error) infill');
      assert.deepEqual(fake.messages.map((m) => [m.level, m.items]), [['error', ['Show Log', 'Restart Server', 'Open Settings']]]);
      // One clear message: the command, its exit code and its last stderr lines (issue 11, defect 5).
      const shown = fake.messages[0]?.message ?? '';
      assert.ok(shown.includes(`(${script} -m infill_ls serve) exited with code 1: "No module named infill_ls"`), shown);
      // The log has the server's stderr, then that message; the client library's errors that follow from the
      // exit (a write to the closed pipe) only at debug level, and no stack traces.
      assert.ok(fake.log.some((line) => line === '[info] No module named infill_ls'), fake.log.join('\n'));
      const shownLog = fake.log.filter((line) => !line.startsWith('[debug]') && !line.startsWith('[trace]'));
      assert.deepEqual(shownLog.filter((line) => /EPIPE|after a stream was destroyed|couldn't create connection/.test(line)), []);
      assert.deepEqual(fake.log.filter((line) => /^\s+at /m.test(line)), []);
      assert.equal(fake.log.filter((line) => line.startsWith('[error]')).length, 1, fake.log.join('\n'));
    } finally {
      await session.dispose();
    }
  });
});
