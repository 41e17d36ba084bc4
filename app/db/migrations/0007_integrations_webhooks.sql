-- Voice-platform integrations, outbound webhooks and re-analysis runs (docs/integrations.md,
-- docs/webhooks.md). Secrets are stored sealed (app/secretbox.py), never in clear.

CREATE TABLE integrations (
    id                   bigserial PRIMARY KEY,
    workspace_id         bigint NOT NULL REFERENCES workspaces(id),
    platform             text NOT NULL CHECK (platform IN ('vapi', 'retell', 'elevenlabs')),
    name                 text NOT NULL,
    signing_secret       text NOT NULL,
    signing_secret_hint  text NOT NULL,
    api_key              text,
    api_key_hint         text,
    -- platform agent id → our agent id
    agent_map            jsonb NOT NULL DEFAULT '{}',
    default_agent_id     bigint REFERENCES agents(id),
    auto_create_agents   boolean NOT NULL DEFAULT false,
    fetch_recordings     boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integrations_workspace ON integrations (workspace_id, id);

-- Signatures already accepted, so a captured request cannot be played again within the
-- timestamp tolerance (older ones are refused as stale anyway and are pruned).
CREATE TABLE integration_signatures (
    integration_id  bigint NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    digest          text NOT NULL,
    seen_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, digest)
);
CREATE INDEX integration_signatures_age ON integration_signatures (seen_at);

-- Where a platform call's recording comes from (a URL, Vapi's API, audio stored from the event).
ALTER TABLE calls ADD COLUMN integration_id bigint REFERENCES integrations(id) ON DELETE SET NULL;
ALTER TABLE calls ADD COLUMN recording_source jsonb;
-- Audio a platform sent in its event is stored outside the call's recordings/ prefix (the call
-- may not exist yet when it comes); erasing the call must delete it too, after the call's row is
-- gone, so its key travels with the erasure (docs/operations.md#erasure-and-retention).
ALTER TABLE erasures ADD COLUMN extra_keys text[] NOT NULL DEFAULT '{}';

CREATE TABLE webhook_endpoints (
    id                          bigserial PRIMARY KEY,
    workspace_id                bigint NOT NULL REFERENCES workspaces(id),
    url                         text NOT NULL,
    events                      text[] NOT NULL,
    enabled                     boolean NOT NULL DEFAULT true,
    description                 text,
    secret                      text NOT NULL,
    secret_hint                 text NOT NULL,
    -- the secret before the last rotation, still signing until previous_secret_expires_at
    previous_secret             text,
    previous_secret_expires_at  timestamptz,
    disabled_reason             text,
    disabled_at                 timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace_id, id);

-- One row per (event, endpoint): its id is the webhook-id every attempt carries.
CREATE TABLE webhook_deliveries (
    id                bigserial PRIMARY KEY,
    endpoint_id       bigint NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    message_id        text NOT NULL UNIQUE,
    event_type        text NOT NULL,
    -- erasing the call erases its deliveries too: their payload names it (docs/webhooks.md#erasure)
    call_id           bigint REFERENCES calls(id) ON DELETE CASCADE,
    payload           jsonb NOT NULL,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    first_attempt_at  timestamptz,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_error        text,
    delivered_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);

CREATE TABLE webhook_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    status_code  integer,
    error        text,
    duration_ms  integer NOT NULL,
    manual       boolean NOT NULL DEFAULT false
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
-- a manual redelivery asked for (one attempt outside the schedule), cleared by that attempt
ALTER TABLE webhook_deliveries ADD COLUMN manual_requested_at timestamptz;

-- Re-analysis (docs/api.md#re-analysis): a call's earlier runs, kept readable, and bulk jobs.
ALTER TABLE calls ADD COLUMN analysis_run integer NOT NULL DEFAULT 1;
CREATE TABLE analysis_runs (
    call_id          bigint NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    run              integer NOT NULL,
    analysis_status  text NOT NULL,
    call_success     boolean,
    failure_code     text,
    failure_message  text,
    results          jsonb NOT NULL,
    custom_results   jsonb NOT NULL,
    finished_at      timestamptz NOT NULL,
    replaced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (call_id, run)
);

CREATE TABLE reanalysis_jobs (
    id            bigserial PRIMARY KEY,
    workspace_id  bigint NOT NULL REFERENCES workspaces(id),
    filters       jsonb NOT NULL,
    options       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
    total         integer NOT NULL,
    done          integer NOT NULL DEFAULT 0,
    skipped       integer NOT NULL DEFAULT 0,
    -- calls are taken in id order up to the last id that matched when the job was made
    cursor_id     bigint NOT NULL DEFAULT 0,
    max_id        bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
CREATE INDEX reanalysis_jobs_running ON reanalysis_jobs (updated_at) WHERE status = 'running';
