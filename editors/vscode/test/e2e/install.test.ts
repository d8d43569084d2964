/**
 * The first run without a server, in a real VS Code (code-server in headless Chromium): the extension is
 * installed with no server settings, offers to install infill-ls, "Install" → CPU builds it into the
 * extension's global storage with a progress notification, the status bar becomes ready, and ghost text
 * appears. pip uses the user's configuration and cache (llama-cpp-python's build comes from the cache here).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodeServerWindow, resultsDir, suiteTools, until } from './codeServer';

const { skip, tools } = suiteTools();
/** A real install (venv + pip) and a model load. */
const INSTALL = { timeout: 900_000 };

const originalPath = process.env.PATH;

describe('VS Code (code-server) with no server: the extension installs it', { skip }, () => {
  let window: CodeServerWindow | undefined;

  before(async () => {
    // No infill-ls on PATH (the developer's venv), so that nothing is found.
    process.env.PATH = (originalPath ?? '').split(path.delimiter).filter((dir) => dir !== '' && !fs.existsSync(path.join(dir, 'infill-ls'))).join(path.delimiter);
    window = await CodeServerWindow.open(tools(), {
      // No infill.server.* at all: only the model; everything else is the extension's default.
      settings: { 'infill.model.path': tools().smollm2, 'workbench.startupEditor': 'none' },
      files: { 'first.py': 'def add(a, b):\n' },
    });
  });

  after(async () => {
    await window?.close();
    process.env.PATH = originalPath;
  });

  it('offers to install; Install → CPU → progress → ready → ghost text', INSTALL, async () => {
    assert.ok(window !== undefined, 'code-server did not start');
    const win = window;
    try {
      const offer = await until('the offer to install the server', async () =>
        (await win.notifications()).find((m) => m.includes('server is not installed')), 120_000,
      async () => `notifications ${JSON.stringify(await win.notifications())}, status ${JSON.stringify(await win.status())}`);
      assert.match(offer, /Install it now/);
      // The extension host sends the status item after the notification (it batches status bar updates on a
      // timer), so the item may not be on screen yet when the toast is: wait for it, do not read it once.
      await until('the status bar to show the error', async () => ((await win.status())?.icon === 'codicon-error' ? true : undefined), 30_000,
        async () => `status ${JSON.stringify(await win.status())}, history ${JSON.stringify(await win.statusHistory())}`);
      // Click the notification's "Install" button.
      const clicked = await win.page.evaluate(() => {
        const button = [...document.querySelectorAll('.notifications-toasts .notification-list-item')]
          .filter((item) => (item.textContent).includes('server is not installed'))
          .flatMap((item) => [...item.querySelectorAll<HTMLElement>('.monaco-button')])
          .find((b) => b.textContent.trim() === 'Install');
        button?.click();
        return button !== undefined;
      }, undefined);
      assert.ok(clicked, 'no Install button on the notification');
      // The quick pick: CPU first.
      await win.waitFor('the build quick pick', '.quick-input-widget:not([style*="display: none"]) .quick-input-list .monaco-list-row');
      const rows = await win.texts('.quick-input-widget .quick-input-list .monaco-list-row');
      assert.match(rows[0] ?? '', /CPU/);
      assert.ok(rows.some((row) => row.includes('NVIDIA CUDA')), JSON.stringify(rows));
      await win.page.keyboard.press('Enter');
      // While it installs, the status bar says so (not the red "not running").
      await until('the status bar to say installing', async () => ((await win.status())?.label.includes('installing') ? true : undefined), 60_000,
        async () => `status ${JSON.stringify(await win.status())}`);
      // The progress notification names the steps.
      const progress = await until('the install progress', async () =>
        (await win.texts('.notifications-toasts .notification-list-item')).find((t) => t.includes('installing the server')), 60_000,
      async () => `notifications ${JSON.stringify(await win.notifications())}`);
      assert.match(progress, /installing the server/);
      // The install's end says so in a toast; watched while it is on screen (VS Code hides an information toast
      // after 10 s, which the server's start may take), not read once after the server is ready.
      await until('the notification that the server is installed', async () =>
        ((await win.notifications()).some((m) => m.includes('the server is installed (infill-ls')) ? true : undefined), 600_000,
      async () => `status ${JSON.stringify(await win.status())}, notifications ${JSON.stringify(await win.notifications())}`);
      await until('the status bar to show ready', async () => ((await win.status())?.icon === 'codicon-sparkle' ? true : undefined), 120_000,
        async () => `status ${JSON.stringify(await win.status())}, notifications ${JSON.stringify(await win.notifications())}`);
      assert.match(win.extensionLog(), /starting \S+globalStorage\S+venv\/bin\/python -m infill_ls serve/);
      // Ghost text from the installed server.
      await win.openFile('first.py');
      await win.goToEnd(2);
      await win.page.keyboard.type('    return ', { delay: 60 });
      await until('ghost text after `return `', () => win.ghostText(), 90_000);
    } catch (error) {
      const dir = resultsDir('install-server');
      await win.saveArtifacts(dir);
      if (error instanceof Error) {
        error.message += `\n(screenshot and logs: ${dir})`;
      }
      throw error;
    }
  });
});
