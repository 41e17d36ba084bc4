"""calls.sweep (beat): re-dispatch stalled pending calls; give up on hopeless ones (docs/pipeline.md#the-sweeper)."""
from __future__ import annotations

import logging

from app.db import pipeline as pipeline_db
from app.db.pool import transaction
from workers import pipeline
from workers.context import WorkerDeps
from workers.stages.common import fail_call

log = logging.getLogger(__name__)
BATCH = 500


def sweep_stale_calls(deps: WorkerDeps) -> dict:
    """Returns counts {"requeued", "failed", "backlog"} for the log.

    While tasks are still waiting in the broker queue, a call without progress is most likely
    just queued behind them: re-enqueueing it would grow the backlog and, after max_attempts,
    fail calls that were only waiting. So the sweep is deferred until the queue drains; stages
    that really are stuck are caught then, and poison tasks by their delivery count meanwhile.
    """
    settings = deps.settings
    backlog = deps.queue_depth()
    if backlog:
        log.info("sweep deferred: the queue has a backlog", extra={"backlog": backlog})
        return {"requeued": 0, "failed": 0, "backlog": backlog}
    with transaction(deps.pool) as conn:
        stale = pipeline_db.claim_stale_calls(conn, settings.stale_after_seconds, BATCH)
    requeued = failed = 0
    for row in stale:
        if row["sweeps"] > settings.max_attempts:
            fail_call(deps, row["id"], "analysis_timeout",
                      f"No progress after {settings.max_attempts} re-enqueues.")
            failed += 1
        else:
            pipeline.redispatch(deps, row["id"])
            requeued += 1
    if stale:
        log.info("sweep", extra={"requeued": requeued, "failed": failed})
    return {"requeued": requeued, "failed": failed, "backlog": backlog or 0}
