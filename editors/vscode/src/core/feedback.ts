/**
 * What the extension tells the server about its suggestions (issue 25, docs/protocol.md). No `vscode` import.
 *
 * - Accepted whole (Tab): VS Code runs the item's `command`, the server's `infill.accepted` with the suggestion's
 *   id, which vscode-languageclient registered from the server's executeCommandProvider; the extension only keeps
 *   the command on the items it hands VS Code, and never registers `infill.accepted` itself.
 * - Accepted in part (next word, next line): VS Code's stable API (1.91, and still 1.139) tells an extension
 *   nothing (`handleDidPartiallyAcceptCompletionItem` is the proposed `inlineCompletionsAdditions`), so the
 *   extension's own keys run VS Code's commands and report what they inserted: `infill/didFeedback`
 *   `acceptedPart` with the characters. A part that is the whole rest is a whole accept in VS Code (it runs the
 *   item's command), so it is not reported again.
 * - Shown: the stable API does not say, so nothing is sent; the server's "answered" stands for it.
 */

export const DID_FEEDBACK = 'infill/didFeedback';
/** The server's command on every item (the extension never registers it). */
export const ACCEPTED_COMMAND = 'infill.accepted';

export type Part = 'word' | 'line';

/** VS Code's commands that accept a part, wrapped by the extension's keys. */
export const PART_COMMANDS: Readonly<Record<Part, string>> = {
  word: 'editor.action.inlineSuggest.acceptNextWord',
  line: 'editor.action.inlineSuggest.acceptNextLine',
};

export interface FeedbackParams {
  readonly id: string;
  readonly event: 'shown' | 'accepted' | 'acceptedPart' | 'dismissed' | 'typedOver';
  readonly characters?: number;
  readonly part?: Part;
}

/** The suggestion an item's command names: `{command: "infill.accepted", arguments: [{id, confidence}]}`. */
export interface SuggestionRef {
  readonly id: string;
  readonly confidence: number | null;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The suggestion id and confidence in an item's command (a protocol `Command` or a `vscode.Command`). */
export function suggestionRef(command: unknown): SuggestionRef | undefined {
  const obj = record(command);
  if (obj?.command !== ACCEPTED_COMMAND || !Array.isArray(obj.arguments)) {
    return undefined;
  }
  const arg = record(obj.arguments[0]);
  const id = arg?.id;
  if (typeof id !== 'string' || id === '') {
    return undefined;
  }
  const confidence = arg?.confidence;
  return { id, confidence: typeof confidence === 'number' && Number.isFinite(confidence) ? confidence : null };
}

/** An item VS Code was given, as a part accept needs it. */
export interface OfferedItem<P> {
  readonly id: string;
  /** The whole text the item puts over its range. */
  readonly text: string;
  /** Where its range starts. */
  readonly start: P;
}

/** The items of the last answer per document (`uri.toString()`): VS Code shows one of them. */
export class OfferedItems<P> {
  private readonly byUri = new Map<string, readonly OfferedItem<P>[]>();

  remember(uri: string, items: readonly OfferedItem<P>[]): void {
    if (items.length === 0) {
      this.byUri.delete(uri);
    } else {
      this.byUri.set(uri, items);
    }
  }

  items(uri: string): readonly OfferedItem<P>[] {
    return this.byUri.get(uri) ?? [];
  }

  forget(uri: string): void {
    this.byUri.delete(uri);
  }
}

/** An offered item with the document's text from its range's start to the cursor, read before the accept. */
export interface Candidate {
  readonly id: string;
  readonly text: string;
  readonly typed: string;
}

function lf(text: string): string {
  return text.replace(/\r\n/g, '\n');
}

/**
 * The feedback for a part accept that inserted `inserted`, or undefined when there is none to send:
 * nothing was inserted, no offered item explains it (another extension's suggestion), or it was the whole rest of
 * the item (VS Code then accepts the item whole and runs its command, which the server counts).
 *
 * The item is the first whose text starts with what is already typed over its range followed by `inserted`.
 */
export function partialAcceptFeedback(candidates: readonly Candidate[], inserted: string, part: Part): FeedbackParams | undefined {
  const added = lf(inserted);
  if (added === '') {
    return undefined;
  }
  for (const candidate of candidates) {
    const text = lf(candidate.text);
    const typed = lf(candidate.typed);
    if (!text.startsWith(typed)) {
      continue;
    }
    const rest = text.slice(typed.length);
    if (!rest.startsWith(added)) {
      continue;
    }
    if (rest.length === added.length) {
      return undefined;
    }
    return { id: candidate.id, event: 'acceptedPart', characters: added.length, part };
  }
  return undefined;
}

/**
 * What a part accept's document change inserted. VS Code replaces the range from the cursor to where the ghost text
 * starts (usually empty) with that range's own text followed by the part, so the part is what follows the
 * replaced length.
 */
export function insertedText(change: { readonly text: string; readonly rangeLength: number }): string {
  return change.text.slice(change.rangeLength);
}
