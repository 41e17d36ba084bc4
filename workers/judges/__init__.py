"""Custom-metric judges: the LLM judge client, the code-judge sandbox, and call success."""
