/** Loads the compiled extension with `require('vscode')` answered by the fake module. */
import Module from 'node:module';
import * as path from 'node:path';
import { vscodeModule } from './fakeVscode';
import { EXTENSION_ROOT } from './manifest';

interface ModuleInternals {
  _resolveFilename: (this: unknown, request: string, ...rest: unknown[]) => string;
}

const FAKE_ID = path.join(__dirname, 'vscode.fake.js');

/** Makes every later `require('vscode')` return the fake. */
export function installFakeVscode(): void {
  const internals = Module as unknown as ModuleInternals;
  const original = internals._resolveFilename;
  internals._resolveFilename = function resolve(this: unknown, request: string, ...rest: unknown[]): string {
    return request === 'vscode' ? FAKE_ID : original.call(this, request, ...rest);
  };
  const cached = new Module(FAKE_ID);
  cached.filename = FAKE_ID;
  cached.loaded = true;
  cached.exports = vscodeModule;
  require.cache[FAKE_ID] = cached;
}

export interface ExtensionModule {
  activate(context: { subscriptions: { dispose(): unknown }[]; extensionUri: unknown; globalState: unknown; globalStorageUri: unknown }): void;
  deactivate(): Promise<void> | undefined;
}

/** The extension as VS Code loads it from `main` (compiled `src/extension.ts`). */
export function loadExtension(): ExtensionModule {
  installFakeVscode();
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded at run time, after the hook
  return require(path.join(EXTENSION_ROOT, 'out', 'src', 'extension.js')) as ExtensionModule;
}
