-- callscope schema, version 1. Every row belongs to exactly one workspace (directly or via its call).

CREATE TABLE workspaces (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per issued token (the JWT's jti). Revocation is a timestamp, so it can be audited.
CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces(id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz
);

CREATE TABLE agents (
    id                         bigserial PRIMARY KEY,
    workspace_id               bigint NOT NULL REFERENCES workspaces(id),
    name                       text NOT NULL,
    ai_channel                 text NOT NULL DEFAULT 'left' CHECK (ai_channel IN ('left', 'right', 'auto')),
    disabled_standard_metrics  text[] NOT NULL DEFAULT '{}',
    enabled_metric_ids         bigint[] NOT NULL DEFAULT '{}',
    analysis_settings          jsonb NOT NULL DEFAULT '{}',
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    -- soft delete: past calls keep showing their agent
    deleted_at                 timestamptz
);
CREATE INDEX agents_workspace ON agents (workspace_id, id) WHERE deleted_at IS NULL;

-- Custom metric definitions (docs/metrics.md#custom-metrics). Only existence is used yet (validating metric_ids);
-- the definitions API arrives with the custom-metrics issue.
CREATE TABLE custom_metrics (
    id            bigserial PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces(id),
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('llm', 'code')),
    result_type   text NOT NULL,
    version       integer NOT NULL DEFAULT 1,
    definition    jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz
);

CREATE TABLE calls (
    id                    bigserial PRIMARY KEY,
    workspace_id          bigint NOT NULL REFERENCES workspaces(id),
    agent_id              bigint NOT NULL REFERENCES agents(id),
    call_identifier       text NOT NULL,
    observation_type      text NOT NULL CHECK (observation_type IN ('voice', 'text')),
    call_direction        text NOT NULL CHECK (call_direction IN ('inbound', 'outbound')),
    call_end_reason       text,
    customer_number       text,
    duration_seconds      integer,
    call_timestamp        timestamptz NOT NULL,
    label                 text,
    tag                   text,
    metadata              jsonb NOT NULL DEFAULT '{}',
    source_recording_url  text,
    transcript            jsonb,
    transcript_source     text CHECK (transcript_source IN ('provided', 'generated')),
    metric_ids            bigint[],
    analysis_status       text NOT NULL DEFAULT 'pending' CHECK (analysis_status IN ('pending', 'computed', 'failed')),
    transcription_status  text NOT NULL CHECK (transcription_status IN ('pending', 'completed', 'failed', 'not_applicable')),
    transcript_branch     text NOT NULL,
    audio_branch          text NOT NULL,
    recording_key         text,
    recording_info        jsonb,
    failure_code          text,
    failure_message       text,
    call_success          boolean,
    sweeps                integer NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- moved by every stage that changes something: the sweeper's notion of "no progress"
    progressed_at         timestamptz NOT NULL DEFAULT now(),
    -- the idempotency key: concurrent duplicates are decided by this index + ON CONFLICT
    CONSTRAINT calls_identifier_unique UNIQUE (workspace_id, call_identifier)
);
CREATE INDEX calls_list ON calls (workspace_id, call_timestamp DESC, id DESC);
CREATE INDEX calls_stale ON calls (progressed_at) WHERE analysis_status = 'pending';

-- One row per status change (analysis status, pipeline branches), written with the change.
CREATE TABLE call_status_history (
    id          bigserial PRIMARY KEY,
    call_id     bigint NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    field       text NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    code        text,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX call_status_history_call ON call_status_history (call_id, id);

-- One row per (call, standard metric); written once from pending to its terminal status.
CREATE TABLE metric_results (
    id             bigserial PRIMARY KEY,
    call_id        bigint NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    metric_key     text NOT NULL,
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'computed', 'failed', 'skipped')),
    source         text,
    result_data    jsonb,
    error_code     text,
    error_message  text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT metric_results_unique UNIQUE (call_id, metric_key)
);

-- Attempt counts per (call, stage), kept in Postgres because the broker keeps none: a task
-- that kills its worker is redelivered forever unless something counts (reliability notes).
CREATE TABLE stage_runs (
    call_id      bigint NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    stage        text NOT NULL,
    deliveries   integer NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    PRIMARY KEY (call_id, stage)
);
