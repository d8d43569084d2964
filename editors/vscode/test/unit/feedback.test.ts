import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Candidate,
  type FeedbackParams,
  insertedText,
  OfferedItems,
  partialAcceptFeedback,
  suggestionRef,
  type SuggestionRef,
} from '../../src/core/feedback';
import { toInlineItems } from '../../src/core/inline';

describe('the suggestion an item\'s command names', () => {
  const cases: [string, unknown, SuggestionRef | undefined][] = [
    ['the contract\'s command', { title: 'infill: accepted', command: 'infill.accepted', arguments: [{ id: 's1', confidence: -0.42 }] },
      { id: 's1', confidence: -0.42 }],
    ['confidence null', { command: 'infill.accepted', arguments: [{ id: 's2', confidence: null }] }, { id: 's2', confidence: null }],
    ['confidence missing', { command: 'infill.accepted', arguments: [{ id: 's3' }] }, { id: 's3', confidence: null }],
    ['another command', { command: 'editor.action.formatDocument', arguments: [{ id: 's4' }] }, undefined],
    ['no arguments', { command: 'infill.accepted' }, undefined],
    ['an id that is not a string', { command: 'infill.accepted', arguments: [{ id: 5 }] }, undefined],
    ['an empty id', { command: 'infill.accepted', arguments: [{ id: '' }] }, undefined],
    ['no command (an older server)', undefined, undefined],
  ];
  for (const [name, command, expected] of cases) {
    it(name, () => {
      assert.deepEqual(suggestionRef(command), expected);
    });
  }

  it('the middleware keeps the command on the items it hands VS Code (toInlineItems keeps the source item)', () => {
    const command = { title: 'infill: accepted', command: 'infill.accepted', arguments: [{ id: 'abc', confidence: -0.1 }] };
    const items = toInlineItems([{ insertText: 'a + b', command }], { line: 1, character: 11 });
    assert.deepEqual(items.map((item) => suggestionRef(item.source.command)), [{ id: 'abc', confidence: -0.1 }]);
  });
});

describe('infill/didFeedback for a part accept (next word, next line)', () => {
  const item = (id: string, text: string, typed = ''): Candidate => ({ id, text, typed });
  const cases: [string, Candidate[], string, 'word' | 'line', FeedbackParams | undefined][] = [
    ['the first word of the suggestion', [item('s1', 'a + b\n')], 'a ', 'word',
      { id: 's1', event: 'acceptedPart', characters: 2, part: 'word' }],
    ['the next word after one accepted before (typed over the range)', [item('s1', 'a + b\n', 'a ')], '+ ', 'word',
      { id: 's1', event: 'acceptedPart', characters: 2, part: 'word' }],
    ['the first line of a block', [item('s1', 'x = 1\ny = 2\n')], 'x = 1\n', 'line',
      { id: 's1', event: 'acceptedPart', characters: 6, part: 'line' }],
    ['the whole rest: VS Code accepts it whole and runs the item\'s command, so nothing here', [item('s1', 'a + b', 'a + ')], 'b', 'word', undefined],
    ['the whole item in one part: nothing here either', [item('s1', 'b')], 'b', 'word', undefined],
    ['nothing inserted (no suggestion was visible)', [item('s1', 'a + b')], '', 'word', undefined],
    ['another extension\'s suggestion: no item explains it', [item('s1', 'a + b')], 'foo', 'word', undefined],
    ['the user typed something else over the range since', [item('s1', 'a + b', 'x')], 'a ', 'word', undefined],
    ['the item that explains it, of several (alternatives)', [item('s1', 'a - b'), item('s2', 'a + b')], 'a + ', 'word',
      { id: 's2', event: 'acceptedPart', characters: 4, part: 'word' }],
    ['CRLF in the document counts as one character per line break', [item('s1', 'x = 1\ny = 2')], 'x = 1\r\n', 'line',
      { id: 's1', event: 'acceptedPart', characters: 6, part: 'line' }],
    ['no items offered', [], 'a ', 'word', undefined],
  ];
  for (const [name, candidates, inserted, part, expected] of cases) {
    it(name, () => {
      assert.deepEqual(partialAcceptFeedback(candidates, inserted, part), expected);
    });
  }

  const changes: [string, { text: string; rangeLength: number }, string][] = [
    ['an insertion at the cursor', { text: 'a ', rangeLength: 0 }, 'a '],
    ['the range up to the ghost text replaced by its own text and the part', { text: '  a ', rangeLength: 2 }, 'a '],
  ];
  for (const [name, change, expected] of changes) {
    it(`what a change inserted: ${name}`, () => {
      assert.equal(insertedText(change), expected);
    });
  }
});

describe('the items offered per document', () => {
  it('keeps the last answer per document, and forgets an empty one', () => {
    const offered = new OfferedItems<number>();
    offered.remember('file:///a.py', [{ id: '1', text: 'x', start: 0 }]);
    offered.remember('file:///b.py', [{ id: '2', text: 'y', start: 0 }]);
    offered.remember('file:///a.py', [{ id: '3', text: 'z', start: 1 }]);
    assert.deepEqual(offered.items('file:///a.py').map((i) => i.id), ['3']);
    offered.remember('file:///b.py', []);
    assert.deepEqual(offered.items('file:///b.py'), []);
    offered.forget('file:///a.py');
    assert.deepEqual(offered.items('file:///a.py'), []);
  });
});
