/**
 * Issue 23 (syntax-aware endings) in a real VS Code (code-server 4.139.1 = VS Code 1.139.1, in headless
 * Chromium): a completion inside brackets that the rest of the line closes, accepted with Tab, leaves the line
 * correct on disk.
 *
 * The model is the tiny scripted one of tests/fixtures/tinymodel.py (a bigram machine): after `,` it writes
 * ` 5);` and ends, overrunning the `))` that follow the cursor in `print(area(3,|))`. Accepted as the model wrote
 * it, the saved line would be `print(area(3, 5);))`; the server cuts the completion where the rest of the line
 * takes over, and the line reads `print(area(3, 5))`.
 *
 * Run by `npm run test:e2e` with the rest of the real-VS-Code suite (alone: `node --test out/test/e2e/endings.test.js`).
 * A failed scenario leaves a screenshot, the extension's log and code-server's log in
 * editors/vscode/test-results/<scenario>/.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/manifest';
import { CodeServerWindow, scenario, suiteTools, until } from './codeServer';

const { skip, tools } = suiteTools();
const SLOW = { timeout: 300_000 };
const GHOST_MS = 90_000;

const AREA = 'def area(w, h):\n    return w * h\n\n\nprint(area(3))';
/** The bigrams of the scripted model: `,` → ` 5` → `)` → `;` → end of infill. */
const OVERRUN = { ',': '▁5', '▁5': ')', ')': ';', ';': '▁<EOT>' };

/** Writes the scripted tiny model into `dir` with the tests' own fixture (tests/fixtures/tinymodel.py). */
function overrunModel(dir: string): string {
  const out = path.join(dir, 'overrun.gguf');
  const script = 'import json, sys; sys.path.insert(0, sys.argv[1]); from tinymodel import write_tiny_model; '
    + 'write_tiny_model(sys.argv[2], script=json.loads(sys.argv[3]))';
  execFileSync(tools().python, ['-c', script, path.join(REPO_ROOT, 'tests', 'fixtures'), out, JSON.stringify(OVERRUN)],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

describe('VS Code (code-server): a completion inside brackets the line closes', { skip }, () => {
  let window: CodeServerWindow | undefined;
  let models: string | undefined;
  const current = (): CodeServerWindow | undefined => window;

  before(async () => {
    models = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-e2e-endings-'));
    window = await CodeServerWindow.open(tools(), {
      settings: {
        'infill.server.pythonPath': tools().python,
        'infill.model.path': overrunModel(models),
        'workbench.startupEditor': 'none',
      },
      files: { 'area.py': AREA },
    });
  });

  after(async () => {
    await window?.close();
    if (models !== undefined) {
      fs.rmSync(models, { recursive: true, force: true });
    }
  });

  function win(): CodeServerWindow {
    assert.ok(window !== undefined, 'code-server did not start');
    return window;
  }

  it('Tab accepts `5` in `print(area(3,|))`, and the saved line closes each bracket once', SLOW, () => scenario(current, 'endings-brackets', async () => {
    await until('the status bar to show ready', async () => ((await win().status())?.icon === 'codicon-sparkle' ? true : undefined), 120_000,
      async () => `status ${JSON.stringify(await win().status())}`);
    await win().openFile('area.py');
    await win().goToEnd(AREA.split('\n').length);
    await win().page.keyboard.press('ArrowLeft');
    await win().page.keyboard.press('ArrowLeft');
    await win().page.keyboard.type(',', { delay: 60 });
    const ghost = await until('ghost text after `print(area(3,`', () => win().ghostText(), GHOST_MS,
      async () => `status ${JSON.stringify(await win().status())}`);
    await win().page.keyboard.press('Tab');
    await win().page.keyboard.press('Control+S');
    const full = path.join(win().workspace, 'area.py');
    let last = '';
    const onDisk = await until('area.py saved with the completion', () => {
      last = fs.readFileSync(full, 'utf8');
      return Promise.resolve(last.includes('5') ? last : undefined);
    }, 30_000, () => Promise.resolve(`on disk: ${JSON.stringify(last)}`));
    assert.equal(onDisk.split('\n').at(-1), 'print(area(3, 5))', `ghost text ${JSON.stringify(ghost)}, saved ${JSON.stringify(onDisk)}`);
  }));
});
