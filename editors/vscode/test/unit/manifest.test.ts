/** package.json against docs/protocol.md and the extension's code: the contract cannot drift unnoticed. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { MACHINE_SETTINGS, openSettingsCommand } from '../../src/core/openSettings';
import { CLIENT_SECTIONS, DEFAULT_ENABLE, type JsonValue, SERVER_LISTS, SERVER_SECTIONS } from '../../src/core/settings';
import { EXTENSION_ROOT, protocolSettings, readManifest } from '../helpers/manifest';

const manifest = readManifest();
const properties = manifest.contributes.configuration.properties;
const protocol = protocolSettings();

describe('settings in package.json', () => {
  it('docs/protocol.md has the 34 server settings', () => {
    assert.equal(protocol.length, 34);
  });

  it('has every server key of docs/protocol.md, and no other server key', () => {
    const serverKeys = Object.keys(properties).filter(
      (key) => SERVER_SECTIONS.some((s) => key.startsWith(`infill.${s}.`)) || SERVER_LISTS.some((l) => key === `infill.${l}`),
    );
    assert.deepEqual(serverKeys, protocol.map((row) => row.key));
  });

  for (const row of protocol) {
    it(`${row.key}: same type, default and description as docs/protocol.md`, () => {
      const schema = properties[row.key];
      assert.ok(schema, row.key);
      assert.deepEqual(schema.default, row.default);
      // Markdown (code spans, links) goes in markdownDescription, which the settings editor renders.
      assert.equal(schema.markdownDescription ?? schema.description, row.meaning);
      if (row.type.includes('/')) {
        assert.deepEqual(schema.enum, row.type.split('/').map((choice) => JSON.parse(choice) as string));
        assert.equal(schema.type, 'string');
      } else if (row.type.endsWith(' or null')) {
        assert.deepEqual(schema.type, [row.type.replace(/ or null$/, ''), 'null']);
      } else {
        assert.equal(schema.type, row.type);
      }
    });
  }

  // The remote engine's keys as issue 13's contract fixes them (server/infill_ls/config.py, EngineSettings).
  const engineKeys: [string, string, JsonValue, string[] | undefined, [number, number] | undefined, string | undefined][] = [
    ['infill.engine.url', 'string', '', undefined, undefined, 'machine-overridable'],
    ['infill.engine.api', 'string', 'auto', ['auto', 'llama.cpp', 'openai'], undefined, undefined],
    ['infill.engine.model', 'string', '', undefined, undefined, undefined],
    ['infill.engine.timeoutMs', 'integer', 30000, undefined, [100, 600000], undefined],
    ['infill.engine.speculate', 'boolean', false, undefined, undefined, undefined],
    ['infill.engine.caFile', 'string', '', undefined, undefined, undefined],
  ];
  for (const [key, type, value, choices, range, scope] of engineKeys) {
    it(`${key}: the contract's type, default, choices, range and scope`, () => {
      const schema = properties[key];
      assert.ok(schema, `${key} is missing`);
      assert.deepEqual(
        [schema.type, schema.default, schema.enum, schema.minimum === undefined ? undefined : [schema.minimum, schema.maximum], schema.scope],
        [type, value, choices, range, scope],
      );
    });
  }

  it('says where the engine API key comes from (the environment), and that empty url means in-process', () => {
    const url = properties['infill.engine.url']?.description ?? '';
    assert.match(url, /empty = the model runs inside the language server/);
    assert.match(url, /http:\/\/host:port = a shared llama-server, vLLM or OpenAI-style server/);
    assert.match(url, /INFILL_API_KEY/);
    assert.deepEqual(Object.keys(properties).filter((key) => /key|token|secret/i.test(key) && key.startsWith('infill.engine.')), []);
  });

  it('has the client-only keys with their defaults', () => {
    const client = Object.keys(properties).filter((key) => CLIENT_SECTIONS.some((s) => key === `infill.${s}` || key.startsWith(`infill.${s}.`)));
    assert.deepEqual(client.sort(), ['infill.client.debounceMs', 'infill.enable', 'infill.server.command', 'infill.server.installPython', 'infill.server.pythonPath']);
    assert.deepEqual(properties['infill.enable']?.default, DEFAULT_ENABLE);
    assert.deepEqual(properties['infill.server.command']?.default, []);
    assert.deepEqual(properties['infill.server.command'].type, ['array', 'string']);
    assert.equal(properties['infill.server.pythonPath']?.default, '');
    assert.equal(properties['infill.server.installPython']?.default, '');
    assert.equal(properties['infill.client.debounceMs']?.default, 0);
  });
});

describe('setting scopes and "Open Settings" (issue 11, defect 4)', () => {
  // The scopes each settings tab shows (VS Code's configuration.ts): in a remote window the User tab holds the
  // local machine's settings (LOCAL_MACHINE_SCOPES), the Remote tab the remote's (REMOTE_MACHINE_SCOPES).
  const ALL = ['application', 'machine', 'window', 'resource', 'language-overridable', 'machine-overridable'];
  const shown: Record<string, string[]> = {
    'workbench.action.openSettings local': ALL,
    'workbench.action.openSettings remote': ['application', 'window', 'resource', 'language-overridable'],
    'workbench.action.openRemoteSettings remote': ['machine', 'window', 'resource', 'language-overridable', 'machine-overridable'],
  };
  for (const [key, schema] of Object.entries(properties)) {
    for (const remoteName of [undefined, 'ssh-remote']) {
      it(`${key}: "Open Settings" in a ${remoteName === undefined ? 'local' : 'remote'} window shows it`, () => {
        const { command, args } = openSettingsCommand(key, remoteName);
        const tab = shown[`${command} ${remoteName === undefined ? 'local' : 'remote'}`];
        assert.ok(tab, `${command} cannot show settings in this window`);
        assert.ok(tab.includes(schema.scope ?? 'window'), `${key} (${schema.scope ?? 'window'}) is not in the tab ${command} opens`);
        assert.deepEqual(args, command === 'workbench.action.openSettings' ? [key] : [{ query: key }]);
      });
    }
  }

  it('the server command, Python path and engine URL belong to the machine the server runs on', () => {
    // Not `application` (a local path used on the remote) nor `window` (synced to every machine).
    const machine = Object.entries(properties).filter(([, schema]) => schema.scope === 'machine' || schema.scope === 'machine-overridable');
    assert.deepEqual(machine.map(([key, schema]) => [key, schema.scope]), MACHINE_SETTINGS.map((key) => [key, 'machine-overridable']));
  });
});

describe('setting descriptions (issue 11, defect 9)', () => {
  // One style: full sentences, each starting with a capital letter (or a code name: `auto`, languageId) and ending with
  // a period.
  const sentences = /^(?:[A-Z]|`[^`]+`|[a-z]+[A-Z]\w*)[^]*[.]$/;
  for (const [key, schema] of Object.entries(properties)) {
    it(`${key}: its description is full sentences`, () => {
      const text = schema.markdownDescription ?? schema.description;
      assert.ok(text !== undefined, `${key} has no description`);
      assert.match(text, sentences);
      for (const choice of schema.enumDescriptions ?? []) {
        assert.match(choice, sentences);
      }
    });
  }
});

describe('commands and keys', () => {
  const extension = fs.readFileSync(path.join(EXTENSION_ROOT, 'src', 'extension.ts'), 'utf8');

  it('contributes its commands under the "infill" category, each registered in extension.ts', () => {
    assert.deepEqual(
      manifest.contributes.commands.map((c) => `${c.category}: ${c.title}`),
      ['infill: Restart Server', 'infill: Show Log', 'infill: Toggle Completions', 'infill: Download Model', 'infill: Install or Repair the Server',
        'infill: Show Statistics', 'infill: Accept Next Word of the Suggestion', 'infill: Accept Next Line of the Suggestion'],
    );
    for (const { command } of manifest.contributes.commands) {
      assert.ok(extension.includes(`'${command}'`), `${command} is not registered`);
    }
  });

  it('never registers the server\'s infill.accepted itself (vscode-languageclient does, from executeCommandProvider)', () => {
    const sources = fs.readdirSync(path.join(EXTENSION_ROOT, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => fs.readFileSync(path.join(EXTENSION_ROOT, 'src', file), 'utf8'));
    assert.ok(sources.every((text) => !/registerCommand\(\s*['"`]infill\.accepted/.test(text)));
    assert.ok(!manifest.contributes.commands.some((c) => c.command === 'infill.accepted'));
  });

  it('binds accept-next-word and accept-next-line to its own commands, which report what they accepted, only while a suggestion shows', () => {
    assert.deepEqual(manifest.contributes.keybindings.map((k) => [k.command, k.key, k.mac]), [
      ['infill.acceptNextWord', 'ctrl+right', 'cmd+right'],
      ['infill.acceptNextLine', 'ctrl+down', 'cmd+down'],
    ]);
    for (const binding of manifest.contributes.keybindings) {
      assert.match(binding.when, /inlineSuggestionVisible/);
    }
  });

  it('keeps the accept commands out of the command palette (they act on the ghost text under the cursor)', () => {
    assert.deepEqual(manifest.contributes.menus?.commandPalette.map((m) => [m.command, m.when]), [
      ['infill.acceptNextWord', 'false'],
      ['infill.acceptNextLine', 'false'],
    ]);
  });
});

describe('packaging', () => {
  it('pins the versions the brief asks for', () => {
    assert.match(manifest.dependencies['vscode-languageclient'] ?? '', /^(10\.1\.|11\.)/);
    assert.equal(manifest.engines.vscode, '^1.91.0');
    assert.match(manifest.devDependencies['@vscode/vsce'] ?? '', /^3\.9\./);
    assert.match(manifest.devDependencies['vscode-languageserver-protocol'] ?? '', /^3\.18\./);
  });

  it('runs the checks in order in npm run ci', () => {
    assert.equal(manifest.scripts.ci, 'npm run build && npm run lint && npm run test:unit && npm run test:integration && npm run package');
  });

  it('loads the bundle', () => {
    assert.equal(manifest.main, './dist/extension.js');
  });
});
