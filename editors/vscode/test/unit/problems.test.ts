import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delay } from '../../src/core/debounce';
import { describeProblem, noFimModel, OnceFilter, type Problem, serverMessage, settingIn } from '../../src/core/problems';
import { RestartBudget } from '../../src/core/restarts';

describe('actionable messages', () => {
  const cases: [string, Problem, RegExp, string[]][] = [
    ['no Python', { kind: 'pythonNotFound', pythonPath: '/nope/python' }, /Python was not found at "\/nope\/python"/, ['openServerSettings', 'installHelp']],
    ['infill-ls not on PATH: offers to install it', { kind: 'commandNotFound', command: 'infill-ls', configured: false }, /server is not installed \("infill-ls" is not on PATH\)\. Install it now/, ['installServer', 'openServerSettings', 'installHelp']],
    ['configured command missing', { kind: 'commandNotFound', command: '/x/infill-ls', configured: true }, /"\/x\/infill-ls" was not found/, ['openServerSettings', 'installHelp']],
    ['server exited', { kind: 'serverExited', command: 'python -m infill_ls serve', detail: 'exit code 1' }, /stopped \(python -m infill_ls serve\): exit code 1/, ['showLog', 'restart', 'openServerSettings']],
    ['server exited at once: its exit code and last stderr lines, no client error', {
      kind: 'serverExited', command: 'py -m infill_ls serve', detail: 'write EPIPE', exit: { code: 1, signal: null }, stderr: ['Traceback (most recent call last):', 'ModuleNotFoundError: No module named infill_ls'],
    }, /^infill: the server \(py -m infill_ls serve\) exited with code 1: "Traceback \(most recent call last\): … ModuleNotFoundError: No module named infill_ls"\. The log has its output\.$/, ['showLog', 'restart', 'openServerSettings']],
    ['server killed by a signal, no output', { kind: 'serverExited', command: 'infill-ls serve', exit: { code: null, signal: 'SIGKILL' }, stderr: [] },
      /^infill: the server \(infill-ls serve\) was stopped by SIGKILL\. The log has its output\.$/, ['showLog', 'restart', 'openServerSettings']],
    ['no model (repo/file)', { kind: 'modelError', message: 'model not downloaded', localPath: '' }, /^infill: model not downloaded$/, ['downloadModel', 'openSettings', 'showLog']],
    ['failed load of a local file', { kind: 'modelError', message: 'cannot load', localPath: '/m.gguf' }, /cannot load \(infill\.model\.path = "\/m\.gguf"\)/, ['openSettings', 'showLog']],
    ['remote engine unreachable: names the URL setting, offers no download', {
      kind: 'engineError', message: 'cannot reach the inference server: connection refused', url: 'http://gpu:8080',
    }, /^infill: cannot reach the inference server: connection refused \(infill\.engine\.url = "http:\/\/gpu:8080"\)$/, ['openSettings', 'showLog']],
    ['anything else', { kind: 'other', message: 'Request failed' }, /^infill: Request failed$/, ['showLog']],
  ];
  for (const [name, problem, message, actions] of cases) {
    it(name, () => {
      const described = describeProblem(problem);
      assert.match(described.message, message);
      assert.deepEqual(described.actions, actions);
    });
  }

  it('shows a message once until reset', () => {
    const once = new OnceFilter();
    assert.equal(once.first('a'), true);
    assert.equal(once.first('a'), false);
    assert.equal(once.first('b'), true);
    once.reset();
    assert.equal(once.first('a'), true);
  });
});

describe('the no-FIM warning names its model (remembered per model)', () => {
  const cases: [string, string, string | undefined][] = [
    ['the server\'s warning', 'infill-ls: smollm2.gguf has no FIM tokens; completing from the prefix only', 'smollm2.gguf'],
    ['a name with spaces', 'infill-ls: my model.gguf has no FIM tokens; completing from the prefix only', 'my model.gguf'],
    ['another warning', 'infill-ls: setting infill.completion.maxTokens is out of range', undefined],
  ];
  for (const [name, message, model] of cases) {
    it(name, () => {
      assert.equal(noFimModel(message), model);
    });
  }
});

describe('restarts', () => {
  it('never restarts a server that did not get through initialize', () => {
    assert.equal(new RestartBudget().allow(0, false), false);
  });

  it('allows three restarts in three minutes, then more once the window moved on', () => {
    const budget = new RestartBudget(3, 180_000);
    assert.deepEqual([0, 1000, 2000, 3000].map((t) => budget.allow(t, true)), [true, true, true, false]);
    assert.equal(budget.allow(181_500, true), true);
  });
});

describe('client debounce', () => {
  const token = (cancelled: boolean) => {
    const listeners: (() => void)[] = [];
    return {
      isCancellationRequested: cancelled,
      onCancellationRequested(listener: () => void) {
        listeners.push(listener);
        return { dispose: () => listeners.splice(listeners.indexOf(listener), 1) };
      },
      cancel() {
        this.isCancellationRequested = true;
        for (const listener of [...listeners]) {
          listener();
        }
      },
      listeners,
    };
  };

  it('does not wait at 0 ms', async () => {
    assert.equal(await delay(0, token(false)), true);
  });

  it('says false for a token cancelled already', async () => {
    assert.equal(await delay(50, token(true)), false);
  });

  it('stops waiting when the token is cancelled, and unsubscribes', async () => {
    const t = token(false);
    const waiting = delay(60_000, t);
    t.cancel();
    assert.equal(await waiting, false);
    assert.equal(t.listeners.length, 0);
  });

  it('resolves true after the wait', async () => {
    const t = token(false);
    assert.equal(await delay(1, t), true);
    assert.equal(t.listeners.length, 0);
  });
});

describe('window/showMessage from the server', () => {
  it('drops the error that infill/status already reported with buttons', () => {
    assert.equal(serverMessage(1, 'infill-ls: model x is not downloaded', 'model x is not downloaded'), undefined);
  });

  it('shows other errors with Show Log', () => {
    assert.deepEqual(serverMessage(1, 'infill-ls: boom', 'model x is not downloaded'), { level: 'error', message: 'infill-ls: boom', actions: ['showLog'] });
    assert.deepEqual(serverMessage(1, 'infill-ls: boom', undefined)?.actions, ['showLog']);
  });

  it('offers the settings for a warning that names a key', () => {
    const shown = serverMessage(2, "infill-ls settings: infill.completion.debounceMs: 'x' must be an integer; using the default 150", undefined);
    assert.deepEqual(shown, {
      level: 'warning',
      message: "infill-ls settings: infill.completion.debounceMs: 'x' must be an integer; using the default 150",
      actions: ['openSettings', 'showLog'],
    });
  });

  it('shows information without buttons', () => {
    assert.deepEqual(serverMessage(3, 'hello', undefined), { level: 'info', message: 'hello', actions: [] });
  });

  it('finds the key a message names', () => {
    assert.equal(settingIn('infill.model.path = "/x"'), 'infill.model.path');
    assert.equal(settingIn('bad infill.enable map'), 'infill.enable');
    assert.equal(settingIn('infill: refused (infill.engine.url = "http://gpu:8080")'), 'infill.engine.url');
    assert.equal(settingIn("infill.engine.api: 'tgi' must be one of 'auto', 'llama.cpp', 'openai'"), 'infill.engine.api');
    assert.equal(settingIn('no key here'), undefined);
  });
});
