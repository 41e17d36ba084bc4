-- The audio engine: per-call speech analysis, and which branch computes each metric.
ALTER TABLE calls ADD COLUMN speech jsonb;
ALTER TABLE metric_results ADD COLUMN planned_branch text;
