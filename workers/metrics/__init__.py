"""Standard metrics: pure functions over speech segments and words (no I/O, no app imports)."""
