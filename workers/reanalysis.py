"""Bulk re-analysis jobs, one batch a second (docs/api.md#re-analysis): each batch resets up to
CALLSCOPE_REANALYSIS_PER_SECOND calls in one transaction and queues their analysis, so a job over
a hundred thousand calls feeds the workers at a steady rate instead of flooding the queue."""
from __future__ import annotations

from app.db import runs as runs_db
from app.db.pool import transaction
from workers.context import WorkerDeps

BATCH_INTERVAL_SECONDS = 1.0


def run_job_batch(deps: WorkerDeps, job_id: int) -> tuple[list[int], bool]:
    """Reset the job's next batch: (call ids to analyse, whether the job goes on). A job locked
    by another worker, or done, does nothing."""
    with transaction(deps.pool) as conn:
        job = runs_db.get_job(conn, None, job_id, for_update=True)
        if job is None or job["status"] != "running":
            return [], False
        batch = deps.settings.reanalysis_per_second
        ids = runs_db.next_job_calls(conn, job, batch)
        reset = [i for i in ids if runs_db.reset_for_reanalysis(conn, job["workspace_id"], i, job["options"]) == "reset"]
        more = len(ids) == batch
        runs_db.advance_job(conn, job_id, ids[-1] if ids else job["cursor_id"], len(reset), len(ids) - len(reset),
                            finished=not more)
    return reset, more


def stalled_jobs(deps: WorkerDeps) -> list[int]:
    """Running jobs whose next batch was lost (a broker outage): beat sends them again."""
    with transaction(deps.pool) as conn:
        return runs_db.stalled_jobs(conn, 30 * BATCH_INTERVAL_SECONDS)
