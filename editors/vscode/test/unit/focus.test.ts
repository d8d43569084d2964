import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DidFocusParams, type FocusCause, FocusReporter, type FocusTarget, type Timers } from '../../src/core/focus';

/** A scripted clock: timers run only when the test advances time. */
class Clock implements Timers {
  now = 0;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private next = 0;

  set(callback: () => void, ms: number): unknown {
    this.next += 1;
    this.timers.set(this.next, { at: this.now + ms, callback });
    return this.next;
  }

  clear(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) {
        break;
      }
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = until;
  }
}

function target(name: string, line = 0, character = 0, extra: Partial<FocusTarget> = {}): FocusTarget {
  return { uri: `file:///w/${name}`, scheme: 'file', languageId: 'python', version: 1, line, character, ...extra };
}

/** One step: an event (cause, target) or time passing (a number of ms). */
type Step = [FocusCause, FocusTarget | undefined] | number;

/** Runs the steps and returns what was sent, as "file@line:character at ms". */
function run(steps: Step[], wanted: (t: FocusTarget) => boolean = () => true): string[] {
  const clock = new Clock();
  const sent: string[] = [];
  const reporter = new FocusReporter((params: DidFocusParams) => {
    const name = params.textDocument.uri.replace('file:///w/', '');
    sent.push(`${name}@${String(params.position.line)}:${String(params.position.character)} at ${String(clock.now)}`);
  }, wanted, clock);
  for (const step of steps) {
    if (typeof step === 'number') {
      clock.advance(step);
    } else {
      reporter.changed(step[0], step[1]);
    }
  }
  return sent;
}

describe('infill/didFocus: when it is sent', () => {
  const cases: [string, Step[], string[]][] = [
    ['an editor gains focus: sent 50 ms later', [['editor', target('a.py', 3, 4)], 1000], ['a.py@3:4 at 50']],
    ['the window gains focus: sent 50 ms later', [['window', target('a.py', 3, 4)], 1000], ['a.py@3:4 at 50']],
    ['the selection comes to rest: sent after 300 ms', [['selection', target('a.py', 1, 2)], 1000], ['a.py@1:2 at 300']],
    ['the cursor moving on restarts the wait; only where it rests is sent',
      [['selection', target('a.py', 1, 1)], 200, ['selection', target('a.py', 1, 2)], 200, ['selection', target('a.py', 1, 3)], 1000],
      ['a.py@1:3 at 700']],
    ['cycling through tabs sends only the one it stops at',
      [['editor', target('a.py')], 20, ['editor', target('b.py')], 20, ['editor', target('c.py')], 1000], ['c.py@0:0 at 90']],
    ['the selection event that follows a focus at the same place is not sent again',
      [['editor', target('a.py', 5, 0)], 100, ['selection', target('a.py', 5, 0)], 1000], ['a.py@5:0 at 50']],
    ['the same place twice by selection: once',
      [['selection', target('a.py', 5, 0)], 1000, ['selection', target('a.py', 5, 0)], 1000], ['a.py@5:0 at 300']],
    ['the same place after an edit (a new version): sent again',
      [['selection', target('a.py', 5, 0)], 1000, ['selection', target('a.py', 5, 0, { version: 2 })], 1000], ['a.py@5:0 at 300', 'a.py@5:0 at 1300']],
    ['coming back to a file is sent even at the place last reported',
      [['editor', target('a.py')], 1000, ['editor', target('b.py')], 1000, ['editor', target('a.py')], 1000],
      ['a.py@0:0 at 50', 'b.py@0:0 at 1050', 'a.py@0:0 at 2050']],
    ['the window regaining focus at the same place is sent again',
      [['editor', target('a.py')], 1000, ['window', target('a.py')], 1000], ['a.py@0:0 at 50', 'a.py@0:0 at 1050']],
    ['no active editor (the output panel): nothing, and a pending report is dropped',
      [['selection', target('a.py', 1, 1)], 100, ['editor', undefined], 1000], []],
    ['a document the client does not sync (output channel, git diff): nothing',
      [['editor', target('x', 0, 0, { scheme: 'output' })], 1000, ['editor', target('y', 0, 0, { scheme: 'git' })], 1000], []],
    ['an untitled document is synced, so it is sent',
      [['editor', target('Untitled-1', 0, 0, { scheme: 'untitled', uri: 'untitled:Untitled-1' })], 1000], ['untitled:Untitled-1@0:0 at 50']],
  ];
  for (const [name, steps, expected] of cases) {
    it(name, () => {
      assert.deepEqual(run(steps), expected);
    });
  }

  it('a language whose completions are off (infill.enable) is never reported', () => {
    const sent = run([['editor', target('notes.md', 0, 0, { languageId: 'markdown' })], 1000, ['editor', target('a.py')], 1000],
      (t) => t.languageId !== 'markdown');
    assert.deepEqual(sent, ['a.py@0:0 at 1050']);
  });

  it('sends the contract\'s params: the document URI and the cursor', () => {
    const clock = new Clock();
    const sent: DidFocusParams[] = [];
    const reporter = new FocusReporter((p) => sent.push(p), () => true, clock);
    reporter.changed('editor', target('a.py', 7, 12));
    clock.advance(50);
    assert.deepEqual(sent, [{ textDocument: { uri: 'file:///w/a.py' }, position: { line: 7, character: 12 } }]);
  });

  it('reset(): a new server process gets the place again', () => {
    const clock = new Clock();
    const sent: DidFocusParams[] = [];
    const reporter = new FocusReporter((p) => sent.push(p), () => true, clock);
    reporter.changed('selection', target('a.py', 1, 1));
    clock.advance(300);
    reporter.reset();
    reporter.changed('selection', target('a.py', 1, 1));
    clock.advance(300);
    assert.equal(sent.length, 2);
  });

  it('dispose() drops a pending report', () => {
    const clock = new Clock();
    const sent: DidFocusParams[] = [];
    const reporter = new FocusReporter((p) => sent.push(p), () => true, clock);
    reporter.changed('selection', target('a.py', 1, 1));
    reporter.dispose();
    clock.advance(1000);
    assert.deepEqual(sent, []);
  });
});
