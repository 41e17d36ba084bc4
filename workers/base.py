"""The task base class: late acks, redelivery on worker loss, the retry policy, failure → status."""
from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Task

from app import telemetry
from app.errors import ServiceUnavailable
from workers.failure import DATABASE_OUTAGE, RetryPolicy, StageFailure

log = logging.getLogger(__name__)


class StageTask(Task):
    """A pipeline stage. Stages are idempotent, so late acknowledgement is safe: a task whose
    worker dies is redelivered (the attempt count lives in Postgres, see begin_stage)."""

    acks_late = True
    reject_on_worker_lost = True
    # Each retry passes its policy's budget (workers/failure.py). Celery's own cap must never
    # fire first: it did — 5 here against CALLSCOPE_FETCH_RETRIES of 6 or more turned a
    # retryable failure into internal_error (docs/pipeline.md#failures-and-retries).
    max_retries = None

    def run_stage(self, stage: Callable[..., None], call_id: int) -> None:
        """Run a stage (a workers/pipeline.stage function). It raises only what is worth a retry:
        a transient StageFailure (its budget: CALLSCOPE_FETCH_RETRIES) or the database being
        unreachable (DATABASE_OUTAGE); anything else is a bug (on_failure)."""
        from workers import pipeline
        from workers.celery_app import deps

        worker = deps()
        try:
            stage(worker, call_id, retries_done=self.request.retries)
        except StageFailure as exc:
            if not exc.transient:
                raise
            self._retry(pipeline.retry_policy(worker.settings), exc, call_id)
        except ServiceUnavailable as exc:
            self._retry(DATABASE_OUTAGE, exc, call_id)

    def _retry(self, policy: RetryPolicy, exc: Exception, call_id: int) -> None:
        done = self.request.retries
        if policy.retries_left(done):
            telemetry.TASK_RETRIES.labels(self.name).inc()
            raise self.retry(countdown=policy.delay(done), exc=exc, max_retries=policy.retries)
        # Still failing after the budget: the call stays pending and the sweeper re-dispatches it
        # (and gives it up with analysis_timeout if it never progresses).
        log.warning("no retry left; leaving the call to the sweeper",
                    extra={"call_id": call_id, "task": self.name, "error": repr(exc)})

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """An unexpected exception is a bug, not a transient fault: fail the call with a code
        rather than leave it pending until the sweeper gives up."""
        from workers.celery_app import deps
        from workers.stages.common import fail_call

        call_id = args[0] if args else None
        log.error("stage crashed", extra={"call_id": call_id, "task": self.name, "error": repr(exc)})
        if isinstance(call_id, int):
            try:
                fail_call(deps(), call_id, "internal_error", f"{self.name} failed: {type(exc).__name__}")
            except Exception:
                log.exception("could not record the failure; the sweeper will", extra={"call_id": call_id})
