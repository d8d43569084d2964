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
};
const running: ClientView = { phase: 'running', completionEnabled: true, languageId: 'python', languageEnabled: true };

describe('infill/status payload', () => {
  it('reads a full payload as it is', () => {
    const raw = { ...base, state: 'loading', progress: 42.5, lastLatencyMs: 12.5, stats: { ...stats, requests: 3 } };
    assert.deepEqual(parseStatus(raw), raw);
  });

  it('fills missing fields with neutral values', () => {
    assert.deepEqual(parseStatus({ state: 'error' }), {
      state: 'error', generating: false, speculating: false, message: '', model: null, progress: null, lastLatencyMs: null, stats,
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
