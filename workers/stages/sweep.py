"""calls.sweep (beat): re-enqueue stalled pending calls; give up on hopeless ones (SPEC 5.4)."""
from __future__ import annotations

import logging

from app.db import pipeline as pipeline_db
from app.db.pool import transaction
from workers.context import WorkerDeps
from workers.pipeline import ANALYZE
from workers.stages.common import fail_call

log = logging.getLogger(__name__)
BATCH = 500


def sweep_stale_calls(deps: WorkerDeps) -> dict:
    """Returns counts {"requeued", "failed"} for the log."""
    settings = deps.settings
    with transaction(deps.pool) as conn:
        stale = pipeline_db.claim_stale_calls(conn, settings.stale_after_seconds, BATCH)
    requeued = failed = 0
    for row in stale:
        if row["sweeps"] > settings.max_attempts:
            fail_call(deps, row["id"], "analysis_timeout",
                      f"No progress after {settings.max_attempts} re-enqueues.")
            failed += 1
        else:
            deps.send(ANALYZE, row["id"])
            requeued += 1
    if stale:
        log.info("sweep", extra={"requeued": requeued, "failed": failed})
    return {"requeued": requeued, "failed": failed}
