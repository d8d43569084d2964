import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageLevel, stderrLevel } from '../../src/core/serverLog';

describe("the server's stderr in the log", () => {
  const info = '2026-11-22 00:12:54,821 INFO infill_ls.server: loaded tiny.gguf';
  const cases: [string, string, boolean, string | undefined][] = [
    ['an infill_ls record before the server forwards its log: kept at its level', info, false, 'info'],
    ['an infill_ls record while it forwards: dropped (it arrives as window/logMessage)', info, true, undefined],
    ['a warning while it forwards: dropped', '2026-11-22 00:12:54,821 WARNING infill_ls: x', true, undefined],
    ['a debug record: kept (not forwarded)', '2026-11-22 00:12:54,821 DEBUG infill_ls.engine.llama: y', true, 'debug'],
    ["another library's record: kept", '2026-11-22 00:12:54,821 WARNING pygls.protocol: z', true, 'warn'],
    ['a critical record of another logger', '2026-11-22 00:12:54,821 CRITICAL asyncio: boom', true, 'error'],
    ['a traceback line: an error', 'Traceback (most recent call last):', true, 'error'],
    ['a startup failure: an error', '/usr/bin/python3: No module named infill_ls', false, 'error'],
    ['an empty line: dropped', '   ', false, undefined],
  ];
  for (const [name, line, forwarding, expected] of cases) {
    it(name, () => {
      assert.equal(stderrLevel(line, forwarding), expected);
    });
  }

  it('maps window/logMessage types', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map(messageLevel), ['error', 'warn', 'info', 'info', 'debug']);
  });
});
