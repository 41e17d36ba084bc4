-- Erasure and retention (docs/operations.md#erasure-and-retention), and redaction before LLM
-- judging (docs/metrics.md#redaction).
-- A workspace may keep its calls for a limited time: NULL keeps them until they are deleted.
ALTER TABLE workspaces ADD COLUMN retention_days integer CHECK (retention_days IS NULL OR retention_days > 0);

-- The retention sweep walks each workspace's oldest calls first.
CREATE INDEX calls_by_age ON calls (workspace_id, created_at);

-- A call's row is deleted first (its results and history cascade with it), and in the same
-- transaction an erasure is written here; the stored recording is removed after the commit
-- and only then is the erasure row deleted. A store that is down leaves the row behind for
-- the next retention sweep: no recording outlives its call. No foreign key: the call is gone.
CREATE TABLE erasures (
    call_id       bigint PRIMARY KEY,
    workspace_id  bigint NOT NULL,
    reason        text NOT NULL CHECK (reason IN ('request', 'retention')),
    requested_at  timestamptz NOT NULL DEFAULT now()
);

-- An LLM metric may be judged on a transcript with phone numbers, e-mail addresses and card
-- numbers masked; part of the definition, so each version records whether it was.
ALTER TABLE custom_metric_versions ADD COLUMN redact boolean NOT NULL DEFAULT false;
