/**
 * The extension's "accept next word" and "accept next line" keys: they run VS Code's own commands and tell the
 * server what was accepted (`infill/didFeedback` `acceptedPart`, see core/feedback.ts for why and when).
 */
import * as vscode from 'vscode';
import {
  type Candidate,
  DID_FEEDBACK,
  insertedText,
  type OfferedItem,
  OfferedItems,
  type Part,
  PART_COMMANDS,
  partialAcceptFeedback,
} from './core/feedback';

/** How long to wait for the edit of a part accept to reach the extension after VS Code's command returned. */
const EDIT_WAIT_MS = 500;

export class PartAccepts {
  /** The items of the last answer per document, as VS Code got them. */
  private readonly offered = new OfferedItems<vscode.Position>();

  constructor(
    /** Sends a notification to the server, if one runs. */
    private readonly notify: (method: string, params: object) => void,
  ) {}

  /** The items handed to VS Code for `document` (the middleware's answer). */
  remember(document: vscode.TextDocument, items: readonly OfferedItem<vscode.Position>[]): void {
    this.offered.remember(document.uri.toString(), items);
  }

  /** Runs VS Code's accept-`part` command, then reports what it inserted. */
  async accept(part: Part): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const command = PART_COMMANDS[part];
    if (editor === undefined) {
      await vscode.commands.executeCommand(command);
      return;
    }
    const document = editor.document;
    const cursor = editor.selection.active;
    const candidates: Candidate[] = this.offered.items(document.uri.toString())
      .filter((item) => item.start.isBeforeOrEqual(cursor))
      .map((item) => ({ id: item.id, text: item.text, typed: document.getText(new vscode.Range(item.start, cursor)) }));
    const inserted: string[] = [];
    let edited: () => void = () => undefined;
    const edit = new Promise<void>((resolve) => {
      edited = resolve;
    });
    const listener = vscode.workspace.onDidChangeTextDocument((event) => {
      if (event.document === document && event.contentChanges.length > 0) {
        inserted.push(...event.contentChanges.map(insertedText));
        edited();
      }
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await vscode.commands.executeCommand(command);
      if (inserted.length === 0 && candidates.length > 0) {
        await Promise.race([edit, new Promise<void>((resolve) => { timer = setTimeout(resolve, EDIT_WAIT_MS); })]);
      }
    } finally {
      clearTimeout(timer);
      listener.dispose();
    }
    const feedback = partialAcceptFeedback(candidates, inserted.join(''), part);
    if (feedback !== undefined) {
      this.notify(DID_FEEDBACK, feedback);
    }
  }
}
