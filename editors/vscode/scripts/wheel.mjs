// `npm run package:wheel`: builds the infill-ls wheel of this repository into server/, where the extension
// finds it to install the server itself (src/installer.ts) and where `vsce package` picks it up.
// Python is $INFILL_PYTHON, else python3 (python on Windows). `node scripts/wheel.mjs DIR` builds into DIR instead.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const extension = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(extension, '..', '..');
const out = process.argv[2] === undefined ? join(extension, 'server') : resolve(process.argv[2]);
const python = process.env.INFILL_PYTHON ?? (process.platform === 'win32' ? 'python' : 'python3');
// setuptools builds in <repo>/build and would leave it behind (and reuse stale files from it next time).
const build = join(repo, 'build');
const hadBuild = existsSync(build);

rmSync(out, { recursive: true, force: true });
execFileSync(python, ['-m', 'pip', 'wheel', '--no-deps', '--quiet', '--wheel-dir', out, repo], { stdio: 'inherit' });
if (!hadBuild) {
  rmSync(build, { recursive: true, force: true });
}
process.stdout.write(`${readdirSync(out).map((name) => join(out, name)).join('\n')}\n`);
