"""Producer side of the task queue, and the Celery configuration both processes share.

The web process sends tasks *by name* (it never imports worker code). Sending happens after
the call's transaction commits; if the broker is unreachable the call stays `pending` and the
sweeper (docs/pipeline.md#the-sweeper) enqueues it later, so a publish failure is logged, never raised to a client.
"""
from __future__ import annotations

import logging

from celery import Celery

from app.settings import Settings

ANALYZE_TASK = "calls.analyze"
DELIVER_WEBHOOK_TASK = "webhooks.deliver"
REANALYSIS_JOB_TASK = "reanalysis.run_job"
QUEUE = "calls"
# The code judges have a queue of their own, so they can run in a worker kind of their own where
# the main workers' runtime forbids the user namespaces their box needs
# (docs/operations.md#the-code-judge-worker). A worker that does everything consumes both.
JUDGE_QUEUE = "code_judges"
QUEUES = (QUEUE, JUDGE_QUEUE)
log = logging.getLogger(__name__)

# Publishing must not hold a request hostage while Redis is down: one quick retry, then give up.
_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def celery_config(settings: Settings) -> dict:
    """Celery settings shared by producer and workers (reliability notes, Celery over Redis)."""
    transport = {
        # Above the longest stage and every retry delay, or a running task is delivered twice.
        "visibility_timeout": settings.visibility_timeout_seconds,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "retry_on_timeout": True,
    }
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport,
        "broker_connection_timeout": 2,
        "broker_connection_retry_on_startup": True,
        "result_backend": None,
        "task_ignore_result": True,
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        # Late ack + reject when the worker dies: a SIGKILLed task is redelivered, not lost.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_time_limit": settings.task_time_limit_seconds,
        "task_soft_time_limit": max(1, settings.task_time_limit_seconds - 30),
        "task_publish_retry_policy": _PUBLISH_RETRY,
        "worker_hijack_root_logger": False,
        # workers' task events feed Flower (monitoring) over Redis pub/sub; no "sent" event,
        # which would add a second publish to every POST /calls
        "worker_send_task_events": True,
        "broker_pool_limit": 10,
    }


def make_celery(settings: Settings, name: str = "callscope") -> Celery:
    celery = Celery(name)
    celery.conf.update(celery_config(settings))
    return celery


class TaskQueue:
    """Sends pipeline tasks by name."""

    def __init__(self, celery: Celery):
        self._celery = celery

    def enqueue_analysis(self, call_id: int) -> bool:
        """Publish `calls.analyze(call_id)`; False (logged) when the broker is unreachable."""
        try:
            self._celery.send_task(ANALYZE_TASK, args=[call_id], queue=QUEUE,
                                   retry=True, retry_policy=_PUBLISH_RETRY)
            return True
        except Exception as exc:  # kombu raises many types; any of them leaves the call to the sweeper
            log.warning("enqueue failed; the sweeper will pick the call up",
                        extra={"call_id": call_id, "error": repr(exc)})
            return False

    def send(self, task_name: str, object_id: int) -> bool:
        """Publish another task by name (e.g. a webhook redelivery); False (logged) when the
        broker is unreachable — the work is in Postgres and a periodic task picks it up."""
        try:
            self._celery.send_task(task_name, args=[object_id], queue=QUEUE, retry=True, retry_policy=_PUBLISH_RETRY)
            return True
        except Exception as exc:  # kombu raises many types
            log.warning("send failed; the periodic task will pick the work up",
                        extra={"task": task_name, "object_id": object_id, "error": repr(exc)})
            return False

    def ping(self) -> bool:
        try:
            with self._celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:
            return False
