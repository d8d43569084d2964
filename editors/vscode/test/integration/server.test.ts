/**
 * The real infill-ls server, a tiny random-weight model, and the extension's own pure code on both ends:
 * its initializationOptions and workspace/configuration filter going in, its item conversion coming out.
 *
 * Python: $INFILL_PYTHON, else <repo>/.venv/bin/python. Set INFILL_SKIP_INTEGRATION=1 to skip on purpose.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CancellationTokenSource,
  CompletionRequest,
  CompletionTriggerKind,
  DidChangeConfigurationNotification,
  DidOpenTextDocumentNotification,
  ExecuteCommandRequest,
  type InitializeResult,
  type InlineCompletionList,
  type InlineCompletionParams,
  InlineCompletionRequest,
  InlineCompletionTriggerKind,
  LSPErrorCodes,
  type Position,
  ResponseError,
  type ShowMessageParams,
  TextDocumentSyncKind,
} from 'vscode-languageserver-protocol/node';
import { ACCEPTED_COMMAND, DID_FEEDBACK, partialAcceptFeedback, suggestionRef } from '../../src/core/feedback';
import { textReader, toInlineItems } from '../../src/core/inline';
import { parseStats, STATS_REQUEST, type StatsResult, statsHtml, totals } from '../../src/core/stats';
import { serverMessage } from '../../src/core/problems';
import { initializationOptions, type JsonObject, objectReader, serverTree } from '../../src/core/settings';
import { statusView } from '../../src/core/status';
import { defaultSection, merged } from '../helpers/manifest';
import { buildTinyModel, pythonPath, ServerHarness } from '../helpers/server';

const skip = process.env.INFILL_SKIP_INTEGRATION === '1' ? 'INFILL_SKIP_INTEGRATION=1' : false;
const SLOW = { timeout: 120_000 };

/** VS Code's `infill` section: the package.json defaults, a user's client keys, and the test model. */
function section(modelPath: string, completion: JsonObject): JsonObject {
  return merged(defaultSection(), {
    enable: { '*': true, markdown: false },
    server: { pythonPath: pythonPath() },
    model: { path: modelPath },
    completion,
  });
}

/** Calls `probe` until it returns a value (at most 30 s). */
async function poll<T>(probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    assert.ok(Date.now() < deadline, 'timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let documents = 0;

/** Opens a python document and returns its URI. */
async function open(server: ServerHarness, text: string): Promise<string> {
  documents += 1;
  const uri = `file:///tmp/infill-vscode-test/example${String(documents)}.py`;
  await server.connection.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: 'python', version: 1, text },
  });
  return uri;
}

function params(uri: string, position: Position, triggerKind: InlineCompletionTriggerKind, selected?: InlineCompletionParams['context']['selectedCompletionInfo']): InlineCompletionParams {
  return { textDocument: { uri }, position, context: { triggerKind, selectedCompletionInfo: selected } };
}

function endOf(text: string): Position {
  const lines = text.split('\n');
  return { line: lines.length - 1, character: (lines[lines.length - 1] ?? '').length };
}

let tmp = '';
let model = '';

before(() => {
  if (skip !== false) {
    return;
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infill-vscode-'));
  model = buildTinyModel(tmp);
});

after(() => {
  if (tmp !== '') {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

describe('the settings tree agrees with server/infill_ls/config.py', { skip }, () => {
  it('has the same keys and defaults as config.Settings()', () => {
    const script = 'import json; from infill_ls.config import Settings, to_wire; print(json.dumps(to_wire(Settings())))';
    const wire = JSON.parse(execFileSync(pythonPath(), ['-c', script], { encoding: 'utf8' })) as JsonObject;
    assert.deepEqual(serverTree(objectReader(defaultSection())), wire);
  });
});

describe('infill-ls with VS Code settings (debounceMs 0)', { skip }, () => {
  let server: ServerHarness;
  let initialized: InitializeResult;

  before(async () => {
    server = new ServerHarness(section(model, { debounceMs: 0 }));
    initialized = await server.initialize();
    await server.ready();
  }, SLOW);

  after(async () => {
    assert.equal(await server.stop(), 0, server.stderr);
  }, SLOW);

  it('sends initializationOptions {"infill": {model, completion, engine, context, stats, exclude}} only', () => {
    const options = initializationOptions(objectReader(server.section));
    assert.deepEqual(Object.keys(options.infill), ['model', 'completion', 'engine', 'context', 'stats', 'exclude']);
    assert.equal(options.infill.model?.path, model);
    assert.equal(options.infill.completion?.debounceMs, 0);
  });

  it('answers workspace/configuration with the filtered tree, and the server names no unknown key', () => {
    assert.ok(server.configurationAnswers.length > 0, 'the server did not ask workspace/configuration');
    for (const answer of server.configurationAnswers) {
      assert.deepEqual(Object.keys(answer[0] as JsonObject), ['model', 'completion', 'engine', 'context', 'stats', 'exclude']);
    }
    const complaints = server.shown.all.filter((m) => /unknown setting|infill\.(enable|server|client)/.test(m.message));
    assert.deepEqual(complaints, []);
  });

  it('sends infill/status payloads the status bar understands, ending in ready', () => {
    assert.equal(server.statuses.all.length, server.rawStatuses.length, 'a payload without a valid state');
    for (const raw of server.rawStatuses) {
      for (const key of ['state', 'generating', 'speculating', 'message', 'model', 'progress', 'lastLatencyMs', 'last', 'stats']) {
        assert.ok(key in (raw as JsonObject), `infill/status without ${key}: ${JSON.stringify(raw)}`);
      }
    }
    const ready = server.statuses.all.find((s) => s.state === 'ready');
    assert.ok(ready);
    assert.equal(ready.model, 'tiny.gguf');
    const view = statusView(ready, { phase: 'running', completionEnabled: true, languageId: 'python', languageEnabled: true });
    assert.equal(view.text, '$(sparkle) infill');
  });

  it('advertises what the VS Code client needs', () => {
    const sync = initialized.capabilities.textDocumentSync;
    const kind = typeof sync === 'number' ? sync : sync?.change;
    assert.equal(kind, TextDocumentSyncKind.Incremental);
    const encoding = initialized.capabilities.positionEncoding;
    assert.ok(encoding === undefined || encoding === 'utf-16', `vscode-languageclient refuses position encoding ${String(encoding)}`);
    assert.ok(initialized.capabilities.inlineCompletionProvider);
    // infill.completion.menu "auto": a client that shows inline completions gets no menu items (issue 11).
    assert.equal(initialized.capabilities.completionProvider, undefined);
    // vscode-languageclient registers a VS Code command for each (the extension registers none of them itself).
    assert.deepEqual(initialized.capabilities.executeCommandProvider?.commands, [ACCEPTED_COMMAND]);
  });

  it('carries the infill.accepted command on every item; accepting (its command) and a part accept (infill/didFeedback) show in infill/stats', SLOW, async () => {
    const text = 'def sub(a, b):\n    return ';
    const uri = await open(server, text);
    const result = await server.connection.sendRequest(InlineCompletionRequest.type, params(uri, endOf(text), InlineCompletionTriggerKind.Invoked));
    const items = toInlineItems(result, endOf(text));
    const refs = items.map((item) => suggestionRef(item.source.command));
    assert.ok(items.length >= 2 && refs.every((ref) => ref !== undefined), JSON.stringify(result));
    const [whole, part] = refs;
    assert.ok(whole !== undefined && part !== undefined && whole.id !== part.id, 'ids are not unique per item');
    const partText = items[1]?.insertText ?? '';
    assert.ok(partText.length >= 2, `the second item is too short to accept a part of: ${JSON.stringify(partText)}`);
    const before = parseStats(await server.connection.sendRequest(STATS_REQUEST, { days: 7 }));
    const python = (stats: StatsResult | undefined) => totals(stats?.rows ?? [], 'language').find(([language]) => language === 'python')?.[1];
    // What VS Code runs on Tab (the item's command through vscode-languageclient), and what the extension's
    // accept-next-word key sends.
    await server.connection.sendRequest(ExecuteCommandRequest.type, { command: ACCEPTED_COMMAND, arguments: [whole] });
    const word = partText.slice(0, 1);
    const feedback = partialAcceptFeedback([{ id: part.id, text: partText, typed: '' }], word, 'word');
    assert.deepEqual(feedback, { id: part.id, event: 'acceptedPart', characters: 1, part: 'word' });
    await server.connection.sendNotification(DID_FEEDBACK, feedback);
    const after = await poll(async () => {
      const stats = parseStats(await server.connection.sendRequest(STATS_REQUEST, { days: 7 }));
      const now = python(stats);
      return now !== undefined && now.acceptedPart > (python(before)?.acceptedPart ?? 0) ? stats : undefined;
    });
    const was = python(before);
    const now = python(after);
    assert.ok(now !== undefined);
    assert.equal(now.accepted, (was?.accepted ?? 0) + 1);
    assert.equal(now.acceptedPart, (was?.acceptedPart ?? 0) + 1);
    assert.equal(now.acceptedChars, (was?.acceptedChars ?? 0) + (items[0]?.insertText.length ?? 0) + word.length);
    assert.ok(now.answered >= items.length);
    assert.equal(after.path, path.join(process.env.XDG_STATE_HOME ?? '', 'infill-ls', 'stats.sqlite3'));
    // The page "infill: Show Statistics" renders from this very answer.
    assert.match(statsHtml([after], ''), /<tr><td>python<\/td>/);
  });

  it('answers an Invoked textDocument/inlineCompletion with its alternatives (default 3): distinct items at the cursor, all passed on to VS Code', SLOW, async () => {
    const text = 'def add(a, b):\n    return ';
    const uri = await open(server, text);
    const cursor = endOf(text);
    const result = await server.connection.sendRequest(InlineCompletionRequest.type, params(uri, cursor, InlineCompletionTriggerKind.Invoked));
    assert.ok(result !== null && 'items' in result, `expected an InlineCompletionList, got ${JSON.stringify(result)}`);
    // The random model's samples differ from its greedy answer: more than one item.
    assert.ok(result.items.length >= 2 && result.items.length <= 3, `${JSON.stringify(result)}\n${server.stderr}`);
    assert.ok(result.items.every((raw) => typeof raw.insertText === 'string'));

    const items = toInlineItems(result, cursor);
    assert.equal(items.length, result.items.length);
    assert.equal(new Set(items.map((item) => item.insertText)).size, items.length);
    for (const item of items) {
      assert.equal(item.snippet, false);
      assert.ok(item.insertText.length > 0);
      assert.deepEqual(item.range, { start: cursor, end: cursor });
    }
  });

  it('answers an Automatic textDocument/inlineCompletion with one item', SLOW, async () => {
    const text = 'def mul(a, b):\n    return ';
    const uri = await open(server, text);
    const result = await server.connection.sendRequest(InlineCompletionRequest.type, params(uri, endOf(text), InlineCompletionTriggerKind.Automatic));
    assert.ok(result !== null && 'items' in result, `expected an InlineCompletionList, got ${JSON.stringify(result)}`);
    assert.equal(result.items.length, 1, `${JSON.stringify(result)}\n${server.stderr}`);
  });

  it('extends the item selected in the suggest widget, over its range (selectedCompletionInfo)', SLOW, async () => {
    const text = 'import os\nvalue = os.pa';
    const uri = await open(server, text);
    const cursor = endOf(text);
    const selected = { range: { start: { line: 1, character: 11 }, end: cursor }, text: 'path' };
    const result = await server.connection.sendRequest(
      InlineCompletionRequest.type,
      params(uri, cursor, InlineCompletionTriggerKind.Automatic, selected),
    ) as InlineCompletionList | null;
    const items = toInlineItems(result, cursor, selected, textReader(text));
    // The random model may continue with nothing; what it does return must be showable by VS Code.
    assert.ok(items.length <= 1);
    for (const item of items) {
      assert.deepEqual(item.range, selected.range);
      assert.ok(item.insertText.startsWith('path'), item.insertText);
    }
    const raw = result?.items[0];
    if (raw !== undefined) {
      assert.deepEqual(raw.range, selected.range, 'the server should answer over the selected range');
      assert.equal(typeof raw.insertText, 'string');
      assert.ok((raw.insertText as string).startsWith('path'), 'the server should extend the selected item\'s text');
    }
  });

  it('covers the whole selected range when it reaches past the cursor (editor.suggest.insertMode "replace")', SLOW, async () => {
    const text = 'import os\nvalue = os.paXX';
    const uri = await open(server, text);
    const cursor = { line: 1, character: 13 };
    const selected = { range: { start: { line: 1, character: 11 }, end: { line: 1, character: 15 } }, text: 'path' };
    const result = await server.connection.sendRequest(
      InlineCompletionRequest.type,
      params(uri, cursor, InlineCompletionTriggerKind.Invoked, selected),
    ) as InlineCompletionList | null;
    // Invoked: the greedy item and up to two sampled ones, each over the selected range.
    assert.ok(result && result.items.length >= 1 && result.items.length <= 3, `${JSON.stringify(result)}\n${server.stderr}`);
    for (const raw of result.items) {
      // The server's own answer already replaces the whole selected range with the item's text + the completion.
      assert.deepEqual(raw.range, selected.range);
      assert.equal(typeof raw.insertText, 'string');
      const insertText = raw.insertText as string;
      assert.ok(insertText.startsWith('path') && insertText.length > 'path'.length, insertText);
    }
    // The extension passes them through unchanged (nothing to widen), so VS Code shows them.
    const items = toInlineItems(result, cursor, selected, textReader(text));
    assert.deepEqual(items.map((item) => [item.range, item.insertText]), result.items.map((raw) => [selected.range, raw.insertText]));
  });

  it('names a bad setting, and the extension offers its settings', SLOW, async () => {
    const from = server.shown.all.length;
    const bad = merged(server.section, { completion: { maxTokens: 'lots' } });
    await server.connection.sendNotification(DidChangeConfigurationNotification.type, { settings: initializationOptions(objectReader(bad)) });
    const warning: ShowMessageParams = await server.shown.next((m) => m.message.includes('infill.completion.maxTokens'), from);
    assert.deepEqual(serverMessage(warning.type, warning.message, undefined)?.actions, ['openSettings', 'showLog']);
    await server.connection.sendNotification(DidChangeConfigurationNotification.type, { settings: initializationOptions(objectReader(server.section)) });
  });
});

describe('cancellation as VS Code does it (debounceMs 10000)', { skip }, () => {
  let server: ServerHarness;

  before(async () => {
    // The long debounce keeps the automatic request in the server while $/cancelRequest arrives, so the
    // outcome does not depend on how fast the model is.
    // menu "always": VS Code (inline completion) gets no menu items by default.
    server = new ServerHarness(section(model, { debounceMs: 10_000, menu: 'always' }));
    await server.initialize();
    await server.ready();
  }, SLOW);

  after(async () => {
    assert.equal(await server.stop(), 0, server.stderr);
  }, SLOW);

  it('keeps an inline request alive when a completion-menu request comes for the same place', SLOW, async () => {
    const text = 'def double(x):\n    return ';
    const uri = await open(server, text);
    const inline = server.connection.sendRequest(InlineCompletionRequest.type, params(uri, endOf(text), InlineCompletionTriggerKind.Automatic));
    const menu = server.connection.sendRequest(CompletionRequest.type, {
      textDocument: { uri }, position: endOf(text), context: { triggerKind: CompletionTriggerKind.Invoked },
    });
    const [inlineResult, menuResult] = await Promise.all([inline, menu]);
    assert.ok(inlineResult !== null && 'items' in inlineResult);
    assert.equal(inlineResult.items.length, 1, `the inline request was dropped\n${server.stderr}`);
    // Separate streams: the menu request is answered too, with the one model item.
    assert.ok(menuResult !== null && 'items' in menuResult, JSON.stringify(menuResult));
    assert.equal(menuResult.isIncomplete, true);
    assert.equal(menuResult.items.length, 1, `the menu request was dropped\n${server.stderr}`);
    assert.equal(menuResult.items[0]?.detail, 'infill');
  });

  it('still lets a newer inline request supersede the older one for the same document', SLOW, async () => {
    const text = 'def triple(x):\n    return ';
    const uri = await open(server, text);
    const older = server.connection.sendRequest(InlineCompletionRequest.type, params(uri, endOf(text), InlineCompletionTriggerKind.Automatic));
    const newer = server.connection.sendRequest(InlineCompletionRequest.type, params(uri, endOf(text), InlineCompletionTriggerKind.Invoked));
    const olderItems = await older.then(
      (result) => (result === null ? [] : 'items' in result ? result.items : result),
      (error: unknown) => {
        assert.ok(error instanceof ResponseError, String(error));
        assert.equal(error.code, LSPErrorCodes.RequestCancelled);
        return [];
      },
    );
    assert.deepEqual(olderItems, [], 'the superseded inline request must not produce an item');
    const newerResult = await newer;
    assert.ok(newerResult !== null && 'items' in newerResult);
    assert.ok(newerResult.items.length >= 1, server.stderr); // Invoked: with its alternatives
  });

  it('sends $/cancelRequest when the token is cancelled, and the server answers -32800 or nothing', SLOW, async () => {
    const text = 'def greet(name):\n    print(';
    const uri = await open(server, text);
    const source = new CancellationTokenSource();
    const from = server.sent.length;
    const pending = server.connection.sendRequest(
      InlineCompletionRequest.type,
      params(uri, endOf(text), InlineCompletionTriggerKind.Automatic),
      source.token,
    );
    source.cancel();
    let outcome: string;
    try {
      const result = await pending;
      const items = result === null ? [] : 'items' in result ? result.items : result;
      assert.deepEqual(items, [], 'a cancelled request must not produce an item');
      outcome = 'empty';
    } catch (error) {
      assert.ok(error instanceof ResponseError, String(error));
      assert.equal(error.code, LSPErrorCodes.RequestCancelled);
      outcome = 'cancelled';
    }
    const sent = server.sent.slice(from);
    const request = sent.find((m) => 'method' in m && m.method === InlineCompletionRequest.method && 'id' in m);
    assert.ok(request && 'id' in request);
    const cancel = sent.find((m) => 'method' in m && m.method === '$/cancelRequest');
    assert.ok(cancel && 'params' in cancel, '$/cancelRequest was not sent');
    assert.deepEqual(cancel.params, { id: request.id });
    assert.ok(['cancelled', 'empty'].includes(outcome));
  });
});
