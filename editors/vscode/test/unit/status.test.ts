import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClientView, parseStatus, type StatusPayload, statusView } from '../../src/core/status';

const stats = { requests: 0, modelCalls: 0, cacheHits: 0, typedThrough: 0, cancelled: 0 };
const base: StatusPayload = {
  state: 'ready',
  generating: false,
  speculating: false,
  message: 'ready',
  model: 'codellama-7b.Q4_K_M.gguf',
  progress: null,
  lastLatencyMs: null,
  stats,
  engine: { kind: 'local' },
  excluded: new Map(),
  warm: null,
};
const running: ClientView = { phase: 'running', completionEnabled: true, languageId: 'python', languageEnabled: true };

describe('infill/status payload', () => {
  it('reads a full payload as it is', () => {
    const raw = { ...base, state: 'loading', progress: 42.5, lastLatencyMs: 12.5, stats: { ...stats, requests: 3 } };
    assert.deepEqual(parseStatus({ ...raw, excluded: {}, warm: null }), { ...raw, excluded: new Map(), warm: null });
  });

  it('fills missing fields with neutral values', () => {
    assert.deepEqual(parseStatus({ state: 'error' }), {
      state: 'error', generating: false, speculating: false, message: '', model: null, progress: null, lastLatencyMs: null, stats,
      engine: { kind: 'local' }, excluded: new Map(), warm: null,
    });
  });

  it('ignores the fields it does not use (last, extra stats counters, gpuOffload)', () => {
    const raw = {
      ...base,
      speculating: true,
      gpuOffload: false,
      last: { promptTokens: 900, reusedTokens: 850, evaluatedTokens: 50, generatedTokens: 12, ttftMs: 40.5, modelMs: 80.1, debounceMs: 150, latencyMs: 231.2 },
      stats: { ...stats, dropped: 1, evaluatedTokens: 50, reusedTokens: 850, generatedTokens: 12, wastedTokens: 3, speculations: 2, speculativeHits: 1, speculationsCancelled: 1 },
    };
    assert.deepEqual(parseStatus(raw), { ...base, speculating: true });
    assert.deepEqual(parseStatus({ ...base, last: {} }), base);
  });

  const remote = { kind: 'remote', url: 'http://127.0.0.1:8080', host: '127.0.0.1:8080', api: 'llama.cpp', model: 'codellama-7b' };
  const engines: [string, unknown, StatusPayload['engine']][] = [
    ['no engine (a server before issue 13): local', undefined, { kind: 'local' }],
    ['local', { kind: 'local' }, { kind: 'local' }],
    ['remote llama.cpp', remote, remote as StatusPayload['engine']],
    ['remote OpenAI-style', { ...remote, api: 'openai', model: 'Qwen/Qwen2.5-Coder-7B' },
      { ...remote, api: 'openai', model: 'Qwen/Qwen2.5-Coder-7B' } as StatusPayload['engine']],
    ['remote while connecting: api and model null', { ...remote, api: null, model: null },
      { kind: 'remote', url: remote.url, host: remote.host, api: null, model: null }],
    ['an unknown api reads as not known yet', { ...remote, api: 'tgi' }, { ...remote, api: null } as StatusPayload['engine']],
    ['no host: the URL stands in', { kind: 'remote', url: 'http://gpu:8000' },
      { kind: 'remote', url: 'http://gpu:8000', host: 'http://gpu:8000', api: null, model: null }],
    ['remote without a URL reads as local', { kind: 'remote', host: 'gpu:8000' }, { kind: 'local' }],
    ['not an object', 'remote', { kind: 'local' }],
  ];
  for (const [name, engine, expected] of engines) {
    it(`engine: ${name}`, () => {
      assert.deepEqual(parseStatus({ ...base, engine })?.engine, expected);
    });
  }

  // Issue 21: the open documents the server excludes (infill.exclude, .infillignore), by the URI sent in didOpen.
  const env = 'file:///w/.env';
  const excludedCases: [string, unknown, [string, string][]][] = [
    ['none (a server before issue 21)', undefined, []],
    ['an empty object', {}, []],
    ['one file with its reason', { [env]: 'matches ".env" (infill.exclude default)' }, [[env, 'matches ".env" (infill.exclude default)']]],
    ['two files, in order', { [env]: 'a', 'file:///w/id_rsa': 'b' }, [[env, 'a'], ['file:///w/id_rsa', 'b']]],
    ['a URI kept exactly as sent (percent-encoding, case)', { 'file:///W/My%20Dir/.env.local': 'r' }, [['file:///W/My%20Dir/.env.local', 'r']]],
    ['an empty reason reads as "excluded"', { [env]: '' }, [[env, 'excluded']]],
    ['entries whose reason is not a string are dropped', { [env]: true, 'file:///w/a.key': 'r', 'file:///w/b.pem': null }, [['file:///w/a.key', 'r']]],
    ['a key named __proto__ is an entry, not a prototype', JSON.parse('{"__proto__": "r"}'), [['__proto__', 'r']]],
    ['a list is no map', [env], []],
    ['a string is no map', env, []],
  ];
  for (const [name, excluded, expected] of excludedCases) {
    it(`excluded: ${name}`, () => {
      assert.deepEqual([...(parseStatus({ ...base, excluded })?.excluded ?? [])], expected);
    });
  }

  it('clamps progress to 0-100', () => {
    assert.equal(parseStatus({ state: 'loading', progress: 130 })?.progress, 100);
    assert.equal(parseStatus({ state: 'loading', progress: -1 })?.progress, 0);
  });

  it('rejects payloads without a known state', () => {
    for (const raw of [null, 'ready', [], {}, { state: 'sleeping' }, { state: 3 }]) {
      assert.equal(parseStatus(raw), undefined, JSON.stringify(raw));
    }
  });
});

describe('status bar view', () => {
  const cases: [string, StatusPayload | undefined, ClientView, string, 'normal' | 'error', RegExp][] = [
    ['starting', undefined, { ...running, phase: 'starting' }, '$(loading~spin) infill', 'normal', /starting the server/],
    ['installing the server (not the red not-running state)', undefined, { ...running, phase: 'stopped', installing: true }, '$(loading~spin) infill installing', 'normal', /installing the server/],
    ['loading with progress', { ...base, state: 'loading', progress: 42.4, message: 'downloading codellama' }, running,
      '$(loading~spin) infill 42%', 'normal', /loading the model…\ndownloading codellama/],
    ['loading without progress', { ...base, state: 'loading', message: 'loading x.gguf' }, running, '$(loading~spin) infill', 'normal', /loading x\.gguf/],
    ['ready', base, running, '$(sparkle) infill', 'normal', /ready\.[\s\S]*Click to turn completions off\./],
    ['generating', { ...base, generating: true }, running, '$(sync~spin) infill', 'normal', /generating/],
    ['error', { ...base, state: 'error', message: 'no model: codellama-7b.Q4_K_M.gguf is not downloaded' }, running,
      '$(error) infill', 'error', /no model: codellama/],
    ['disabled by the server', { ...base, state: 'disabled', message: 'completions are disabled' }, running,
      '$(circle-slash) infill', 'normal', /completions are off/],
    ['turned off in the settings', base, { ...running, completionEnabled: false }, '$(circle-slash) infill', 'normal',
      /infill\.completion\.enable[\s\S]*Click to turn completions on\./],
    ['off for the language', base, { ...running, languageId: 'markdown', languageEnabled: false }, '$(circle-slash) infill', 'normal',
      /off for markdown \(setting infill\.enable\)/],
    ['server not running', undefined, { ...running, phase: 'stopped', failure: 'infill: "infill-ls" is not on PATH.' },
      '$(error) infill', 'error', /not running\.\ninfill: "infill-ls" is not on PATH\.\nClick for the actions that fix it\.$/],
  ];
  for (const [name, status, client, text, kind, tooltip] of cases) {
    it(name, () => {
      const view = statusView(status, client);
      assert.equal(view.text, text);
      assert.equal(view.kind, kind);
      assert.match(view.tooltip, tooltip);
    });
  }

  // A remote engine (issue 13): a cloud when idle, and the tooltip names the engine.
  const remote = (api: 'llama.cpp' | 'openai' | null, model: string | null): StatusPayload['engine'] =>
    ({ kind: 'remote', url: 'http://127.0.0.1:8080', host: '127.0.0.1:8080', api, model });
  const remoteCases: [string, StatusPayload, string, 'normal' | 'error', string[]][] = [
    ['local ready: the local icon, no engine line', base, '$(sparkle) infill', 'normal',
      ['infill: ready.', 'ready', 'Model: codellama-7b.Q4_K_M.gguf', 'Click to turn completions off.']],
    ['remote llama.cpp ready', { ...base, model: 'codellama-7b', engine: remote('llama.cpp', 'codellama-7b') }, '$(cloud) infill', 'normal',
      ['infill: ready.', 'llama.cpp at 127.0.0.1:8080 · model codellama-7b', 'ready', 'Click to turn completions off.']],
    ['remote OpenAI-style ready', { ...base, model: 'qwen', engine: remote('openai', 'qwen') }, '$(cloud) infill', 'normal',
      ['infill: ready.', 'OpenAI-style server at 127.0.0.1:8080 · model qwen', 'ready', 'Click to turn completions off.']],
    ['remote, api not known: "server at host"', { ...base, model: null, engine: remote(null, null) }, '$(cloud) infill', 'normal',
      ['infill: ready.', 'server at 127.0.0.1:8080', 'ready', 'Click to turn completions off.']],
    ['remote, engine model unknown: the top-level model', { ...base, model: 'served', engine: remote('llama.cpp', null) }, '$(cloud) infill', 'normal',
      ['infill: ready.', 'llama.cpp at 127.0.0.1:8080 · model served', 'ready', 'Click to turn completions off.']],
    ['remote generating', { ...base, generating: true, model: null, engine: remote('llama.cpp', null) }, '$(sync~spin) infill', 'normal',
      ['infill: generating…', 'llama.cpp at 127.0.0.1:8080', 'ready', 'Click to turn completions off.']],
    ['remote connecting', { ...base, state: 'loading', model: null, message: 'connecting to http://127.0.0.1:8080', engine: remote(null, null) },
      '$(loading~spin) infill', 'normal',
      ['infill: connecting to the inference server…', 'server at 127.0.0.1:8080', 'connecting to http://127.0.0.1:8080', 'Click to turn completions off.']],
    ['remote error: the message, as for a local model', {
      ...base, state: 'error', model: null, message: 'cannot reach http://127.0.0.1:8080: connection refused', engine: remote('llama.cpp', null),
    }, '$(error) infill', 'error',
      ['infill: error.', 'llama.cpp at 127.0.0.1:8080', 'cannot reach http://127.0.0.1:8080: connection refused', 'Click for the actions that fix it.']],
    ['local error', { ...base, state: 'error', model: null, message: 'no model: x.gguf is not downloaded' }, '$(error) infill', 'error',
      ['infill: error.', 'no model: x.gguf is not downloaded', 'Click for the actions that fix it.']],
  ];
  for (const [name, status, text, kind, tooltip] of remoteCases) {
    it(name, () => {
      const view = statusView(status, running);
      assert.deepEqual([view.text, view.kind, view.tooltip.split('\n')], [text, kind, tooltip]);
    });
  }

  it('shows latency and counters once there were requests', () => {
    const view = statusView({ ...base, lastLatencyMs: 123.4, stats: { requests: 5, modelCalls: 3, cacheHits: 1, typedThrough: 1, cancelled: 2 } }, running);
    assert.match(view.tooltip, /Last completion: 123 ms/);
    assert.match(view.tooltip, /5 requests, 3 model calls, 1 cache hits, 1 typed through, 2 cancelled/);
  });

  it('says when the server is speculating', () => {
    assert.match(statusView({ ...base, speculating: true }, running).tooltip, /ready\.\nComputing the next completion ahead of time\./);
    assert.doesNotMatch(statusView(base, running).tooltip, /ahead of time/);
  });

  it('names the model when the message does not', () => {
    assert.match(statusView({ ...base, message: 'ready' }, running).tooltip, /Model: codellama-7b\.Q4_K_M\.gguf/);
    assert.doesNotMatch(statusView({ ...base, message: 'loaded codellama-7b.Q4_K_M.gguf' }, running).tooltip, /Model:/);
  });
});

describe('status bar view of an excluded file (issue 21)', () => {
  const env = 'file:///w/.env';
  const app = 'file:///w/app.py';
  const why = 'matches ".env" (infill.exclude default)';
  const excluded: StatusPayload = { ...base, excluded: new Map([[env, why]]) };
  const onEnv: ClientView = { ...running, documentUri: env, languageId: 'dotenv' };
  const text = '$(circle-slash) infill: excluded';
  const tooltip = [
    'infill: this file is excluded: it is never completed, never read for context and never sent to the model.',
    `Why: ${why}.`,
    "To change it: the setting infill.exclude (a pattern that starts with ! includes files again), or the workspace folder's .infillignore.",
  ];
  const cases: [string, StatusPayload | undefined, ClientView, string, string[] | undefined][] = [
    ['the active file is excluded', excluded, onEnv, text, [...tooltip, 'Click to turn completions off.']],
    ['another file is active: the normal status', excluded, { ...onEnv, documentUri: app, languageId: 'python' }, '$(sparkle) infill', undefined],
    ['no active editor: the normal status', excluded, { ...running, documentUri: undefined }, '$(sparkle) infill', undefined],
    ['the URI must match exactly (as sent in didOpen)', excluded, { ...onEnv, documentUri: 'file:///w/.ENV' }, '$(sparkle) infill', undefined],
    ['while generating (for another file)', { ...excluded, generating: true }, onEnv, text, undefined],
    ['while the model loads', { ...excluded, state: 'loading', progress: 40 }, onEnv, text, undefined],
    ['on a remote engine', { ...excluded, engine: { kind: 'remote', url: 'http://gpu:8080', host: 'gpu:8080', api: 'llama.cpp', model: null } }, onEnv, text, undefined],
    ['over "off for this language" (a .env may be plaintext)', excluded, { ...onEnv, languageId: 'plaintext', languageEnabled: false }, text, undefined],
    ['over completions turned off', excluded, { ...onEnv, completionEnabled: false }, text, [...tooltip, 'Click to turn completions on.']],
    ['a reason ending in a period gets no second one', { ...excluded, excluded: new Map([[env, 'listed in .infillignore.']]) }, onEnv, text,
      [tooltip[0] ?? '', 'Why: listed in .infillignore.', tooltip[2] ?? '', 'Click to turn completions off.']],
    ['a server error wins: it needs fixing whatever the file', { ...excluded, state: 'error', message: 'no model' }, onEnv, '$(error) infill', undefined],
    ['the server not running wins', excluded, { ...onEnv, phase: 'stopped' }, '$(error) infill', undefined],
    ['no status yet: nothing is known to be excluded', undefined, { ...onEnv, phase: 'starting' }, '$(loading~spin) infill', undefined],
  ];
  for (const [name, status, client, expectedText, expectedTooltip] of cases) {
    it(name, () => {
      const view = statusView(status, client);
      assert.equal(view.text, expectedText);
      if (expectedTooltip !== undefined) {
        assert.deepEqual(view.tooltip.split('\n'), expectedTooltip);
      } else if (expectedText !== text) {
        assert.doesNotMatch(view.tooltip, /excluded/);
      }
    });
  }
});

describe('warm files (issue 24): status and tooltip', () => {
  const MIB = 1024 * 1024;
  const parsed: [string, unknown, StatusPayload['warm']][] = [
    ['absent (a server before issue 24)', undefined, null],
    ['not an object', 3, null],
    ['all four counts', { files: 3, tokens: 6200, bytes: 142 * MIB, budgetBytes: 512 * MIB },
      { files: 3, tokens: 6200, bytes: 142 * MIB, budgetBytes: 512 * MIB }],
    ['a missing or bad count reads as 0', { files: 2, tokens: 'many', bytes: -5 }, { files: 2, tokens: 0, bytes: 0, budgetBytes: 0 }],
  ];
  for (const [name, warm, expected] of parsed) {
    it(`reads warm: ${name}`, () => {
      assert.deepEqual(parseStatus({ state: 'ready', warm })?.warm, expected);
    });
  }

  const lines: [string, StatusPayload['warm'], string | undefined][] = [
    ['three files, 142 MiB', { files: 3, tokens: 6200, bytes: 142 * MIB, budgetBytes: 512 * MIB }, 'warm: 3 files, 142 MiB'],
    ['one file, under 10 MiB: one decimal', { files: 1, tokens: 100, bytes: 2.34 * MIB, budgetBytes: 64 * MIB }, 'warm: 1 file, 2.3 MiB'],
    ['no file warm (a remote engine: all zeros): no line', { files: 0, tokens: 0, bytes: 0, budgetBytes: 0 }, undefined],
    ['an older server: no line', null, undefined],
  ];
  for (const [name, warm, expected] of lines) {
    it(`tooltip: ${name}`, () => {
      const tooltip = statusView({ ...base, warm }, running).tooltip;
      const line = tooltip.split('\n').find((l) => l.startsWith('warm:'));
      assert.equal(line, expected, tooltip);
    });
  }
});
