import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageLevel, StderrLines } from '../../src/core/serverLog';

describe("the server's stderr in the log", () => {
  // infill-ls sends its records to the client as window/logMessage from `initialized` to `shutdown`, and to
  // stderr only otherwise (server/infill_ls/logs.py): a record on stderr is never a copy, so each is kept.
  const record = (level: string, logger: string, text: string): string => `2026-11-22 00:12:54,821 ${level} ${logger}: ${text}`;
  const cases: [string, string[], (string | undefined)[]][] = [
    ['an infill_ls record: kept at its level', [record('INFO', 'infill_ls.server', 'loaded tiny.gguf')], ['info']],
    ['a warning record', [record('WARNING', 'infill_ls', 'x')], ['warn']],
    ['a debug record', [record('DEBUG', 'infill_ls.engine.llama', 'y')], ['debug']],
    ['a critical record of infill_ls (not sent to the client): an error', [record('CRITICAL', 'infill_ls', 'boom')], ['error']],
    ["another library's record", [record('WARNING', 'pygls.protocol', 'z')], ['warn']],
    ["llama.cpp's own output (not a record): info, not error", ['llama_model_loader: loaded meta data with 23 key-value pairs'], ['info']],
    ['lines after a record continue it (a logged traceback)', [record('ERROR', 'infill_ls.server', 'completion failed'), 'Traceback (most recent call last):', '  File "x.py"'], ['error', 'error', 'error']],
    ['lines after an info record stay info', [record('INFO', 'infill_ls', 'a'), 'more'], ['info', 'info']],
    ['a crash traceback: an error, to its end', ['Traceback (most recent call last):', '  File "x.py", line 1', 'ValueError: bad'], ['error', 'error', 'error']],
    ["the CLI's fatal error: an error", ['infill-ls: error: model path is not a file: /m.gguf'], ['error']],
    ['an empty line: dropped', ['   '], [undefined]],
  ];
  for (const [name, lines, expected] of cases) {
    it(name, () => {
      const stderr = new StderrLines();
      assert.deepEqual(lines.map((line) => stderr.level(line)), expected);
    });
  }

  it('keeps the last lines for the message about an exit', () => {
    const stderr = new StderrLines(2);
    for (const line of ['one', '', 'two', 'three']) {
      stderr.level(line);
    }
    assert.deepEqual(stderr.last(), ['two', 'three']);
  });

  it('maps window/logMessage types', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(messageLevel), ['error', 'warn', 'info', 'info', 'debug']);
  });
});
