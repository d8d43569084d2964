import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  asksAutomatically,
  clientSettings,
  DEFAULT_TRIGGER_LANGUAGES,
  configChange,
  DEFAULT_ENABLE,
  filterConfigurationItem,
  initializationOptions,
  isLanguageEnabled,
  type JsonObject,
  objectReader,
} from '../../src/core/settings';
import { defaultSection, merged } from '../helpers/manifest';

describe('settings → initializationOptions', () => {
  it('sends model, completion, engine, context, stats and exclude under "infill", with the defaults VS Code fills in', () => {
    const options = initializationOptions(objectReader(defaultSection()));
    assert.deepEqual(Object.keys(options), ['infill']);
    assert.deepEqual(Object.keys(options.infill), ['model', 'completion', 'engine', 'context', 'stats', 'exclude']);
    assert.deepEqual(options.infill.stats, { enable: true });
    assert.equal(options.infill.completion?.warmMemoryMb, -1);
    assert.equal(options.infill.completion.trigger, 'auto');
    assert.deepEqual(options.infill.completion.triggerLanguages, { markdown: 'manual', plaintext: 'manual' });
    assert.equal(options.infill.completion.minConfidence, null);
    assert.deepEqual(options.infill.exclude, []);
    assert.deepEqual(options.infill.model, {
      path: '',
      repo: 'TheBloke/CodeLlama-7B-GGUF',
      file: 'codellama-7b.Q4_K_M.gguf',
      gpuLayers: -1,
      threads: 0,
      contextSize: 4096,
    });
    assert.equal(options.infill.completion.debounceMs, 150);
    assert.equal(options.infill.completion.multiline, 'auto');
    assert.deepEqual(options.infill.engine, { url: '', api: 'auto', model: '', timeoutMs: 30000, speculate: false, caFile: '' });
  });

  it('sends a remote engine as set (the API key never travels: it is not a setting)', () => {
    const section = merged(defaultSection(), { engine: { url: 'http://gpu:8080', api: 'openai', model: 'qwen' } });
    assert.deepEqual(initializationOptions(objectReader(section)).infill.engine,
      { url: 'http://gpu:8080', api: 'openai', model: 'qwen', timeoutMs: 30000, speculate: false, caFile: '' });
  });

  it('leaves out the client-only keys (enable, server, client), which the server would call unknown', () => {
    const section = merged(defaultSection(), { server: { pythonPath: '/usr/bin/python3' }, enable: { go: false } });
    const tree = initializationOptions(objectReader(section)).infill as Record<string, unknown>;
    assert.equal(tree.enable, undefined);
    assert.equal(tree.server, undefined);
    assert.equal(tree.client, undefined);
  });

  it('passes user values through unchecked (the server validates and names bad keys)', () => {
    const section = merged(defaultSection(), { model: { path: '/models/x.gguf' }, completion: { maxTokens: 'lots' } });
    const tree = initializationOptions(objectReader(section)).infill;
    assert.equal(tree.model?.path, '/models/x.gguf');
    assert.equal(tree.completion?.maxTokens, 'lots');
  });

  it('copies proxy-like objects to plain JSON and drops functions and non-finite numbers', () => {
    const proxy = { model: { path: 'a', get: () => 1, threads: Number.NaN }, completion: { menu: false } };
    assert.deepEqual(initializationOptions(objectReader(proxy)), { infill: { model: { path: 'a' }, completion: { menu: false } } });
  });

  it('sends infill.exclude as the list set (the server extends its built-in list with it)', () => {
    const section = merged(defaultSection(), { exclude: ['*.vault', '!.env.example'] });
    assert.deepEqual(initializationOptions(objectReader(section)).infill.exclude, ['*.vault', '!.env.example']);
  });

  it('sends an empty tree when VS Code has no section', () => {
    assert.deepEqual(initializationOptions(objectReader(undefined)), { infill: {} });
  });
});

describe('workspace/configuration answers', () => {
  const section = merged(defaultSection(), { enable: { rust: false } });
  const cases: [string, string | null | undefined, unknown, unknown][] = [
    ['section infill → server keys only', 'infill', section,
      { model: section.model, completion: section.completion, engine: section.engine, context: section.context, stats: section.stats, exclude: section.exclude }],
    ['section infill.model → as is', 'infill.model', section.model, section.model],
    ['no section → infill filtered inside', undefined, { infill: section, editor: { tabSize: 4 } },
      { infill: { model: section.model, completion: section.completion, engine: section.engine, context: section.context, stats: section.stats,
        exclude: section.exclude },
        editor: { tabSize: 4 } }],
    ['other sections → as is', 'editor', { tabSize: 2 }, { tabSize: 2 }],
    ['null section, no infill key → as is', null, { editor: 1 }, { editor: 1 }],
  ];
  for (const [name, requested, value, expected] of cases) {
    it(name, () => {
      assert.deepEqual(filterConfigurationItem(requested, value), expected);
    });
  }
});

describe('per-language enable (infill.enable)', () => {
  const cases: [string, unknown, string, boolean][] = [
    ['default: python on', DEFAULT_ENABLE, 'python', true],
    ['default: plaintext off', DEFAULT_ENABLE, 'plaintext', false],
    ['default: markdown off', DEFAULT_ENABLE, 'markdown', false],
    ['default: scminput off', DEFAULT_ENABLE, 'scminput', false],
    ['"*": false turns unlisted languages off', { '*': false, python: true }, 'go', false],
    ['a listed language beats "*"', { '*': false, python: true }, 'python', true],
    ['no "*" means on', { markdown: false }, 'rust', true],
    ['a non-boolean entry is ignored', { '*': true, rust: 'no' }, 'rust', true],
    ['a non-object map falls back to the defaults', 'yes', 'markdown', false],
  ];
  for (const [name, map, language, expected] of cases) {
    it(name, () => {
      assert.equal(isLanguageEnabled(map, language), expected);
    });
  }
});

describe('client settings', () => {
  it('reads the defaults', () => {
    assert.deepEqual(clientSettings(objectReader(defaultSection())), {
      command: [],
      pythonPath: '',
      enable: DEFAULT_ENABLE,
      debounceMs: 0,
      completionEnabled: true,
      trigger: 'auto',
      triggerLanguages: DEFAULT_TRIGGER_LANGUAGES,
    });
  });

  it('accepts a command as a string or a list, and falls back on wrong types', () => {
    const read = (server: JsonObject, client: JsonObject = {}) =>
      clientSettings(objectReader(merged(defaultSection(), { server, client })));
    assert.deepEqual(read({ command: '/opt/infill-ls' }).command, ['/opt/infill-ls']);
    assert.deepEqual(read({ command: ['python3', '-m', 'infill_ls'] }).command, ['python3', '-m', 'infill_ls']);
    assert.deepEqual(read({ command: '   ' }).command, []);
    assert.deepEqual(read({ command: [1, 2] }).command, []);
    assert.equal(read({ pythonPath: ' /usr/bin/python3 ' }).pythonPath, '/usr/bin/python3');
    assert.equal(read({ pythonPath: 3 }).pythonPath, '');
    assert.equal(read({}, { debounceMs: 75.9 }).debounceMs, 75);
    assert.equal(read({}, { debounceMs: -5 }).debounceMs, 0);
  });

  it('follows infill.completion.enable', () => {
    const section = merged(defaultSection(), { completion: { enable: false } });
    assert.equal(clientSettings(objectReader(section)).completionEnabled, false);
  });
});

describe('automatic requests per language (infill.completion.trigger, triggerLanguages)', () => {
  const read = (completion: JsonObject) => clientSettings(objectReader(merged(defaultSection(), { completion })));
  const cases: [string, JsonObject, string, boolean][] = [
    ['defaults: python asks as the user types', {}, 'python', true],
    ['defaults: markdown on the trigger key only', {}, 'markdown', false],
    ['defaults: plaintext on the trigger key only', {}, 'plaintext', false],
    ['trigger manual: every language not listed is manual', { trigger: 'manual' }, 'python', false],
    ['trigger manual, a language listed auto: that one asks', { trigger: 'manual', triggerLanguages: { go: 'auto' } }, 'go', true],
    ['a language listed manual while trigger is auto', { triggerLanguages: { python: 'manual' } }, 'python', false],
    ['VS Code merges a user list into the default one: markdown stays manual', { triggerLanguages: { python: 'manual' } }, 'markdown', false],
    ['markdown set to auto by the user', { triggerLanguages: { markdown: 'auto' } }, 'markdown', true],
    ['a bad trigger falls back to auto', { trigger: 'sometimes' }, 'python', true],
    ['a bad entry is dropped (follows trigger)', { trigger: 'manual', triggerLanguages: { go: 'yes' } }, 'go', false],
    ['a list that is not an object falls back to the default list', { triggerLanguages: ['markdown'] }, 'markdown', false],
  ];
  for (const [name, completion, language, expected] of cases) {
    it(name, () => {
      assert.equal(asksAutomatically(read(completion), language), expected);
    });
  }
});

describe('configuration changes', () => {
  const changed = (...sections: string[]) => (section: string) => sections.some((s) => s === section || s.startsWith(`${section}.`));
  it('restarts for infill.server.*', () => {
    assert.equal(configChange(changed('infill.server.pythonPath')), 'restart');
    assert.equal(configChange(changed('infill.server.command')), 'restart');
  });
  it('leaves model, completion and engine changes to workspace/didChangeConfiguration', () => {
    assert.equal(configChange(changed('infill.model.path')), 'none');
    assert.equal(configChange(changed('infill.completion.maxTokens')), 'none');
    assert.equal(configChange(changed('infill.engine.url')), 'none');
    assert.equal(configChange(changed('infill.enable')), 'none');
  });
});
