/** The extension's files as vsce packages them into the .vsix (its ReadmeProcessor renames README.md). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXTENSION_ROOT } from './manifest';

interface VsixFile {
  readonly path: string;
  readonly contents?: string | Buffer;
  readonly localPath?: string;
}

interface Vsce {
  readManifest(cwd: string): Promise<Record<string, unknown>>;
  collect(manifest: Record<string, unknown>, options: { cwd: string; dependencies: boolean }): Promise<VsixFile[]>;
}

/**
 * Writes the files vsce puts under `extension/` into `dir`, as VS Code installs them. The bundle is left out
 * (`main` unset: the tests load the compiled sources), so this needs no build.
 */
export async function installLikeVsce(dir: string): Promise<string[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- vsce's packaging internals, for tests only
  const vsce = require('@vscode/vsce/out/package') as Vsce;
  const manifest = await vsce.readManifest(EXTENSION_ROOT);
  const files = await vsce.collect({ ...manifest, main: undefined }, { cwd: EXTENSION_ROOT, dependencies: false });
  const names: string[] = [];
  for (const file of files.filter((f) => f.path.startsWith('extension/'))) {
    const name = file.path.slice('extension/'.length);
    const target = path.join(dir, name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (file.contents !== undefined) {
      fs.writeFileSync(target, file.contents);
    } else if (file.localPath !== undefined) {
      fs.copyFileSync(file.localPath, target);
    }
    names.push(name);
  }
  return names;
}
