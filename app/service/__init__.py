"""Use cases. Each owns its transaction, enqueues only after commit, knows no Flask and no SQL."""
