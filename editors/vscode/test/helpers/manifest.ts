/** The extension's package.json and the protocol doc, read the way the tests need them. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPlainObject, type JsonObject, type JsonValue, toJson } from '../../src/core/settings';

/** editors/vscode (tests run from out/test/<kind>/). */
export const EXTENSION_ROOT = path.resolve(__dirname, '..', '..', '..');
/** The repository root. */
export const REPO_ROOT = path.resolve(EXTENSION_ROOT, '..', '..');

export interface SettingSchema {
  readonly type: string | string[];
  readonly default: JsonValue;
  readonly description?: string;
  readonly markdownDescription?: string;
  readonly enum?: string[];
  readonly enumDescriptions?: string[];
  readonly scope?: string;
  readonly minimum?: number;
  readonly maximum?: number;
}

export interface Manifest {
  readonly name: string;
  readonly main: string;
  readonly engines: Record<string, string>;
  readonly dependencies: Record<string, string>;
  readonly devDependencies: Record<string, string>;
  readonly scripts: Record<string, string>;
  readonly contributes: {
    readonly configuration: { readonly properties: Record<string, SettingSchema> };
    readonly commands: { readonly command: string; readonly title: string; readonly category: string }[];
    readonly keybindings: { readonly command: string; readonly key: string; readonly mac?: string; readonly when: string }[];
    readonly menus?: { readonly commandPalette: { readonly command: string; readonly when: string }[] };
  };
}

export function readManifest(): Manifest {
  return JSON.parse(fs.readFileSync(path.join(EXTENSION_ROOT, 'package.json'), 'utf8')) as Manifest;
}

/** What `vscode.workspace.getConfiguration().get('infill')` holds with no user settings: the defaults, nested. */
export function defaultSection(manifest: Manifest = readManifest()): JsonObject {
  const section: JsonObject = {};
  for (const [key, schema] of Object.entries(manifest.contributes.configuration.properties)) {
    const parts = key.split('.').slice(1);
    let node = section;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (isPlainObject(next)) {
        node = next;
      } else {
        const created: JsonObject = {};
        node[part] = created;
        node = created;
      }
    }
    const leaf = parts[parts.length - 1];
    if (leaf !== undefined) {
      node[leaf] = toJson(schema.default) ?? null;
    }
  }
  return section;
}

/** `section` with `overrides` merged in (objects deeply, everything else replaced). */
export function merged(section: JsonObject, overrides: JsonObject): JsonObject {
  const out: JsonObject = { ...section };
  for (const [key, value] of Object.entries(overrides)) {
    const base = out[key];
    out[key] = isPlainObject(base) && isPlainObject(value) ? merged(base, value) : value;
  }
  return out;
}

export interface ProtocolSetting {
  readonly key: string;
  readonly type: string;
  readonly default: JsonValue;
  readonly meaning: string;
}

/** The settings table of docs/protocol.md. */
export function protocolSettings(): ProtocolSetting[] {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'protocol.md'), 'utf8');
  const rows: ProtocolSetting[] = [];
  for (const match of doc.matchAll(/^\| `(infill\.[^`]+)` \| (.+?) \| `(.+?)` \| (.+?) \|$/gm)) {
    const [, key, type, value, meaning] = match;
    if (key !== undefined && type !== undefined && value !== undefined && meaning !== undefined) {
      rows.push({ key, type: type.replace(/`/g, ''), default: JSON.parse(value) as JsonValue, meaning: meaning.trim() });
    }
  }
  return rows;
}
