"""Cross-file context: snippets of other files shown to the model before the current one.

- `sources.py`: the owner (`CrossFileSources`): recency, recent edits, each document's block and when to
  rebuild it;
- `selection.py`: which chunks of which candidates fit the budget, and the block's text;
- `imports.py`: the files and definitions a document imports (Python, JavaScript, TypeScript, Go);
- `gitignore.py`: git's ignore rules, so that no git-ignored file is ever read.

Which files are never read at all (`infill.exclude`, `.infillignore`) is `exclusion.py`'s, at the top level: it
also decides which documents are never completed in."""
