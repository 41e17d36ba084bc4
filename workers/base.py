"""The task base class: late acks, redelivery on worker loss, retry delays, failure → status."""
from __future__ import annotations

import logging
import random

from celery import Task

from app.errors import ServiceUnavailable

log = logging.getLogger(__name__)
MAX_RETRY_DELAY = 300  # seconds; kept far below the broker's visibility timeout


def backoff_delay(retries: int, base_seconds: float) -> float:
    """Exponential backoff with full jitter: uniform in [base·2^n / 2, base·2^n], capped."""
    ceiling = min(MAX_RETRY_DELAY, base_seconds * (2 ** retries))
    return random.uniform(ceiling / 2, ceiling)


class StageTask(Task):
    """A pipeline stage. Stages are idempotent, so late acknowledgement is safe: a task whose
    worker dies is redelivered (the attempt count lives in Postgres, see begin_stage)."""

    acks_late = True
    reject_on_worker_lost = True
    # Postgres unreachable mid-stage is transient: retry with backoff (the stage re-reads its
    # state, so a retry repeats nothing that was committed). Other budgets are per stage.
    autoretry_for = (ServiceUnavailable,)
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = MAX_RETRY_DELAY
    retry_jitter = True

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
