/**
 * A `textDocument/inlineCompletion` answer → the items VS Code is given. No `vscode` import.
 *
 * The types are structural, so the same code reads the protocol's items (integration tests) and the
 * `vscode.InlineCompletionItem`s that vscode-languageclient made from them (the middleware).
 */

export interface PositionLike {
  readonly line: number;
  readonly character: number;
}

export interface RangeLike {
  readonly start: PositionLike;
  readonly end: PositionLike;
}

/** A protocol `StringValue` (`{kind: "snippet", value}`) or a `vscode.SnippetString` (`{value}`). */
export interface SnippetLike {
  readonly value: string;
}

export interface InlineItemLike {
  readonly insertText: string | SnippetLike;
  readonly range?: RangeLike | undefined;
  readonly filterText?: string | undefined;
}

export type InlineResultLike<T extends InlineItemLike> = readonly T[] | { readonly items: readonly T[] } | null | undefined;

/** `InlineCompletionContext.selectedCompletionInfo`: the item selected in the suggest widget. */
export interface SelectedCompletionLike {
  readonly range: RangeLike;
  readonly text: string;
}

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** One item as VS Code will get it: text, snippet or not, and an explicit range. */
export interface InlineItemData<T> {
  readonly insertText: string;
  readonly snippet: boolean;
  readonly range: Range;
  readonly filterText?: string | undefined;
  /** The item this was made from (its command is kept by the caller). */
  readonly source: T;
}

/** Reads document text in a range on one line; used to widen an item to the selected item's range. */
export type TextReader = (range: RangeLike) => string;

export function comparePositions(a: PositionLike, b: PositionLike): number {
  return a.line === b.line ? a.character - b.character : a.line - b.line;
}

export function rangesEqual(a: RangeLike, b: RangeLike): boolean {
  return comparePositions(a.start, b.start) === 0 && comparePositions(a.end, b.end) === 0;
}

function copyPosition(p: PositionLike): Position {
  return { line: p.line, character: p.character };
}

function copyRange(r: RangeLike): Range {
  return { start: copyPosition(r.start), end: copyPosition(r.end) };
}

function contains(outer: RangeLike, inner: RangeLike): boolean {
  return comparePositions(outer.start, inner.start) <= 0 && comparePositions(inner.end, outer.end) <= 0;
}

/**
 * Rewrites an item to replace exactly `selected.range`, as VS Code requires while the suggest widget is
 * open ("inline completions must extend the text of the selected item and use the same range"). An item
 * replacing `inner` ⊆ `selected.range` with `text` is the same edit as replacing `selected.range` with
 * `before + text + after`, where `before`/`after` are the document text around `inner`. Current servers
 * already answer over `selected.range` (a no-op here); this keeps older servers' `[start, cursor]` items showable.
 */
function alignToSelected(range: Range, text: string, selected: SelectedCompletionLike, read: TextReader): [Range, string] {
  const outer = selected.range;
  if (rangesEqual(range, outer) || !contains(outer, range)) {
    return [range, text];
  }
  const before = read({ start: outer.start, end: range.start });
  const after = read({ start: range.end, end: outer.end });
  return [copyRange(outer), before + text + after];
}

/**
 * The items VS Code should show for `result`, requested at `position`.
 *
 * - a list or `{items}` are both accepted; null/undefined give no items;
 * - an item without a range inserts at `position`;
 * - items with empty text are dropped (nothing to show);
 * - with `selected`, items are widened to its range (see `alignToSelected`), and items that then do not
 *   start with the selected text are dropped, since VS Code would not show them.
 */
export function toInlineItems<T extends InlineItemLike>(
  result: InlineResultLike<T>,
  position: PositionLike,
  selected?: SelectedCompletionLike,
  read?: TextReader,
): InlineItemData<T>[] {
  if (result === null || result === undefined) {
    return [];
  }
  const items: readonly T[] = 'items' in result ? result.items : result;
  const out: InlineItemData<T>[] = [];
  for (const item of items) {
    const snippet = typeof item.insertText !== 'string';
    let text = typeof item.insertText === 'string' ? item.insertText : item.insertText.value;
    let range = item.range === undefined ? { start: copyPosition(position), end: copyPosition(position) } : copyRange(item.range);
    if (selected !== undefined && read !== undefined) {
      [range, text] = alignToSelected(range, text, selected, read);
      if (!text.startsWith(selected.text)) {
        continue;
      }
    }
    if (text === '' || text === selected?.text) {
      continue;
    }
    out.push({ insertText: text, snippet, range, filterText: item.filterText, source: item });
  }
  return out;
}

/** A `TextReader` over a whole document's text (LSP positions are UTF-16 code units, like JS strings). */
export function textReader(text: string): TextReader {
  const lines = text.split(/\r\n|\r|\n/);
  const at = (p: PositionLike): [number, number] => [p.line, Math.min(p.character, (lines[p.line] ?? '').length)];
  return (range) => {
    const [startLine, startChar] = at(range.start);
    const [endLine, endChar] = at(range.end);
    if (startLine === endLine) {
      return (lines[startLine] ?? '').slice(startChar, endChar);
    }
    const middle = lines.slice(startLine + 1, endLine);
    return [(lines[startLine] ?? '').slice(startChar), ...middle, (lines[endLine] ?? '').slice(0, endChar)].join('\n');
  };
}
