"""The resident model behind a small interface (see base.Engine)."""
