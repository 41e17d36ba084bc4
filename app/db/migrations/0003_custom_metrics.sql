-- Custom metrics (docs/metrics.md#custom-metrics): a metric is its id; every change of its definition is a new,
-- immutable version, and each result points at the version it was computed with, so past
-- results stay readable after an update or a delete.
ALTER TABLE custom_metrics DROP COLUMN definition, DROP COLUMN kind, DROP COLUMN result_type;
ALTER TABLE custom_metrics ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
-- the current name, unique among a workspace's live metrics (code judges read LLM results by name)
CREATE UNIQUE INDEX custom_metrics_live_name ON custom_metrics (workspace_id, lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX custom_metrics_workspace ON custom_metrics (workspace_id, id) WHERE deleted_at IS NULL;

CREATE TABLE custom_metric_versions (
    metric_id      bigint NOT NULL REFERENCES custom_metrics(id),
    version        integer NOT NULL,
    name           text NOT NULL,
    description    text,
    kind           text NOT NULL CHECK (kind IN ('llm', 'code')),
    result_type    text NOT NULL CHECK (result_type IN ('boolean', 'rating', 'enum', 'numeric')),
    prompt         text,
    code           text,
    enum_values    jsonb,
    pass_criteria  jsonb,
    critical       boolean NOT NULL DEFAULT false,
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (metric_id, version)
);

-- One row per (call, custom metric), created pending with the call and written once.
CREATE TABLE custom_results (
    id                 bigserial PRIMARY KEY,
    call_id            bigint NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    metric_id          bigint NOT NULL,
    metric_version     integer NOT NULL,
    kind               text NOT NULL,
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'computed', 'failed', 'skipped')),
    result             jsonb,
    explanation        text,
    structured_output  jsonb,
    passed             boolean,
    error_code         text,
    error_message      text,
    usage              jsonb,
    duration_ms        integer,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT custom_results_unique UNIQUE (call_id, metric_id),
    FOREIGN KEY (metric_id, metric_version) REFERENCES custom_metric_versions (metric_id, version)
);

-- The LLM judges are the pipeline's third branch. Calls made before it existed have none.
ALTER TABLE calls ADD COLUMN llm_branch text NOT NULL DEFAULT 'not_applicable';
ALTER TABLE calls ALTER COLUMN llm_branch SET DEFAULT 'pending';

-- Per-agent pass criteria on standard metrics (docs/metrics.md#pass-criteria) and their verdict per result.
ALTER TABLE agents ADD COLUMN standard_criteria jsonb NOT NULL DEFAULT '[]';
ALTER TABLE metric_results ADD COLUMN passed boolean, ADD COLUMN critical boolean NOT NULL DEFAULT false;
