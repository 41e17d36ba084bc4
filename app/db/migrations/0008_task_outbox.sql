-- The transactional outbox (docs/pipeline.md#the-outbox): a task to publish is committed in the
-- same transaction as the rows it is about; the relay publishes it to the broker and deletes it.
-- Rows live for milliseconds, so the table stays small, but it churns at the ingest rate:
-- vacuum it by a fixed number of dead rows rather than a fraction of a table that is ~empty.
CREATE TABLE task_outbox (
    id          bigserial PRIMARY KEY,
    task        text NOT NULL,
    object_id   bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE task_outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                             autovacuum_vacuum_cost_delay = 0);
