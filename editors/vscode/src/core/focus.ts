/**
 * `infill/didFocus` (docs/protocol.md, issue 24): tells the server which document is active and where the cursor
 * rests, so that it can evaluate that prompt before the first keystroke. No `vscode` import: the caller turns
 * VS Code's events into `FocusTarget`s and owns the timers' clock (injected, so the tests script it).
 *
 * - an editor gains focus (the active editor changes, the window gains focus): reported after `FOCUS_MS`, so
 *   that cycling through tabs reports only where it stops, and the document's didOpen goes first;
 * - the selection changes: reported once it has rested `REST_MS` (the contract's "debounced ~300 ms");
 * - only documents the client syncs to the server (`file` and `untitled`) in a language whose completions are on;
 * - the same document, version and position twice in a row are reported once.
 */

export const DID_FOCUS = 'infill/didFocus';

/** How long the cursor must rest before its place is reported. */
export const REST_MS = 300;
/** How long after an editor gains focus it is reported (a newer event replaces it). */
export const FOCUS_MS = 50;

/** URI schemes whose documents the language client syncs (its documentSelector). */
export const SYNCED_SCHEMES: readonly string[] = ['file', 'untitled'];

/** The active editor as the reporter needs it. */
export interface FocusTarget {
  /** `uri.toString()`, as the language client sends it in didOpen. */
  readonly uri: string;
  readonly scheme: string;
  readonly languageId: string;
  readonly version: number;
  /** The cursor (the selection's active end), in UTF-16 code units as VS Code and the protocol count them. */
  readonly line: number;
  readonly character: number;
}

/** The notification's params. */
export interface DidFocusParams {
  readonly textDocument: { readonly uri: string };
  readonly position: { readonly line: number; readonly character: number };
}

/** What made the report: the delay differs. */
export type FocusCause = 'editor' | 'window' | 'selection';

/** setTimeout/clearTimeout, or a scripted clock in the tests. */
export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const REAL_TIMERS: Timers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export function didFocusParams(target: FocusTarget): DidFocusParams {
  return { textDocument: { uri: target.uri }, position: { line: target.line, character: target.character } };
}

function key(target: FocusTarget): string {
  return `${target.uri}#${String(target.version)}@${String(target.line)}:${String(target.character)}`;
}

export class FocusReporter {
  private pending: { readonly handle: unknown; readonly target: FocusTarget } | undefined;
  /** What was last sent, so that the same place is not reported twice in a row. */
  private lastSent: string | undefined;

  constructor(
    private readonly send: (params: DidFocusParams) => void,
    /** Whether completions are on for the target's language (`infill.enable`, `infill.completion.enable`). */
    private readonly wanted: (target: FocusTarget) => boolean,
    private readonly timers: Timers = REAL_TIMERS,
  ) {}

  /** The active editor (`undefined`: none, e.g. the output panel) after an event of kind `cause`. */
  changed(cause: FocusCause, target: FocusTarget | undefined): void {
    this.cancel();
    if (target === undefined || !SYNCED_SCHEMES.includes(target.scheme) || !this.wanted(target)) {
      return;
    }
    if (cause !== 'selection') {
      // Gaining focus is news even at the place last reported: the server may have warmed another file since.
      this.lastSent = undefined;
    }
    const handle = this.timers.set(() => {
      this.pending = undefined;
      this.fire(target);
    }, cause === 'selection' ? REST_MS : FOCUS_MS);
    this.pending = { handle, target };
  }

  /** A new server process knows nothing yet: the next report goes out even for the place last reported. */
  reset(): void {
    this.lastSent = undefined;
  }

  private fire(target: FocusTarget): void {
    const place = key(target);
    if (place === this.lastSent) {
      return;
    }
    this.lastSent = place;
    this.send(didFocusParams(target));
  }

  private cancel(): void {
    if (this.pending !== undefined) {
      this.timers.clear(this.pending.handle);
      this.pending = undefined;
    }
  }

  dispose(): void {
    this.cancel();
  }
}
