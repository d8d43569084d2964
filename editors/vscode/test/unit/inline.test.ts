import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type InlineItemLike, textReader, toInlineItems } from '../../src/core/inline';

const at = (line: number, character: number) => ({ line, character });
const range = (l1: number, c1: number, l2: number, c2: number) => ({ start: at(l1, c1), end: at(l2, c2) });
const plain = (items: ReturnType<typeof toInlineItems>) => items.map(({ insertText, snippet, range: r }) => ({ insertText, snippet, range: r }));

describe('server answer → VS Code items', () => {
  const cursor = at(3, 8);

  it('reads an InlineCompletionList', () => {
    const result = { items: [{ insertText: 'return x', range: range(3, 8, 3, 8) }] };
    assert.deepEqual(plain(toInlineItems(result, cursor)), [{ insertText: 'return x', snippet: false, range: range(3, 8, 3, 8) }]);
  });

  it('reads a bare item array and keeps filterText and the source item', () => {
    const item = { insertText: 'x + 1', range: range(3, 8, 3, 8), filterText: 'x' };
    const [data] = toInlineItems([item], cursor);
    assert.equal(data?.filterText, 'x');
    assert.equal(data.source, item);
  });

  it('gives no items for null, undefined and the empty list', () => {
    assert.deepEqual(toInlineItems(null, cursor), []);
    assert.deepEqual(toInlineItems(undefined, cursor), []);
    assert.deepEqual(toInlineItems({ items: [] }, cursor), []);
  });

  it('inserts at the cursor when the item has no range', () => {
    assert.deepEqual(plain(toInlineItems([{ insertText: '()' }], cursor)), [{ insertText: '()', snippet: false, range: range(3, 8, 3, 8) }]);
  });

  it('keeps a range that replaces text after the cursor', () => {
    const [data] = toInlineItems([{ insertText: 'foo)', range: range(3, 8, 3, 9) }], cursor);
    assert.deepEqual(data?.range, range(3, 8, 3, 9));
  });

  it('marks snippets (protocol StringValue or vscode.SnippetString)', () => {
    const items: InlineItemLike[] = [{ insertText: { value: 'f(${1:x})' } }];
    assert.deepEqual(plain(toInlineItems(items, cursor)), [{ insertText: 'f(${1:x})', snippet: true, range: range(3, 8, 3, 8) }]);
  });

  it('keeps every item of an Invoked answer, in order: VS Code cycles them (issue 14)', () => {
    const result = { items: ['return a + b', 'return b', 'return sum((a, b))'].map((insertText) => ({ insertText, range: range(3, 8, 3, 8) })) };
    assert.deepEqual(
      toInlineItems(result, cursor).map((item) => item.insertText),
      ['return a + b', 'return b', 'return sum((a, b))'],
    );
  });

  it('drops items with empty text', () => {
    assert.deepEqual(toInlineItems({ items: [{ insertText: '' }] }, cursor), []);
  });
});

describe('with the suggest widget open (selectedCompletionInfo)', () => {
  // Line 1 is "    console.lo|" with the cursor after "lo"; the widget selected "log" for "lo".
  const doc = 'def f():\n    console.lo\n';
  const read = textReader(doc);
  const cursor = at(1, 14);
  const selected = { range: range(1, 12, 1, 14), text: 'log' };

  it('keeps an item that already uses the selected range and text', () => {
    const items = toInlineItems([{ insertText: 'log("hi")', range: range(1, 12, 1, 14) }], cursor, selected, read);
    assert.deepEqual(plain(items), [{ insertText: 'log("hi")', snippet: false, range: range(1, 12, 1, 14) }]);
  });

  it('widens an item at the cursor to the selected range (VS Code shows nothing otherwise)', () => {
    const items = toInlineItems([{ insertText: 'g("hi")', range: range(1, 14, 1, 14) }], cursor, selected, read);
    assert.deepEqual(plain(items), [{ insertText: 'log("hi")', snippet: false, range: range(1, 12, 1, 14) }]);
  });

  it('widens an item without a range the same way', () => {
    const items = toInlineItems([{ insertText: 'g()' }], cursor, selected, read);
    assert.deepEqual(plain(items), [{ insertText: 'log()', snippet: false, range: range(1, 12, 1, 14) }]);
  });

  it('drops an item that does not extend the selected text', () => {
    assert.deepEqual(toInlineItems([{ insertText: 'ck()', range: range(1, 14, 1, 14) }], cursor, selected, read), []);
  });

  it('drops an item that adds nothing to the selected text', () => {
    assert.deepEqual(toInlineItems([{ insertText: 'g', range: range(1, 14, 1, 14) }], cursor, selected, read), []);
  });

  it('leaves an item that reaches outside the selected range unchanged', () => {
    const items = toInlineItems([{ insertText: 'log(x)', range: range(1, 12, 1, 15) }], cursor, { range: range(1, 12, 1, 14), text: 'log' }, read);
    assert.deepEqual(items[0]?.range, range(1, 12, 1, 15));
  });

  it('covers text after the cursor inside the selected range', () => {
    // "    console.lo|g2" with the selected item "logger" replacing "log2".
    const read2 = textReader('\n    console.log2\n');
    const sel = { range: range(1, 12, 1, 16), text: 'logger' };
    const items = toInlineItems([{ insertText: 'gger.info()', range: range(1, 14, 1, 16) }], at(1, 14), sel, read2);
    assert.deepEqual(plain(items), [{ insertText: 'logger.info()', snippet: false, range: range(1, 12, 1, 16) }]);
  });
});

describe('textReader', () => {
  const read = textReader('ab\r\ncdé\nfg');
  it('reads within a line (UTF-16 offsets)', () => {
    assert.equal(read(range(1, 1, 1, 3)), 'dé');
  });
  it('reads across lines with \\n', () => {
    assert.equal(read(range(0, 1, 2, 1)), 'b\ncdé\nf');
  });
  it('clamps past the end of a line', () => {
    assert.equal(read(range(0, 1, 0, 99)), 'b');
  });
});
