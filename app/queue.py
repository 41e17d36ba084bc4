"""Producer side of the task queue, and the Celery configuration both processes share.

The web process sends tasks *by name* (it never imports worker code), and never from a
request: a request commits its task to the outbox with its rows, and the relay publishes it
(docs/pipeline.md#the-outbox), so a broker outage never reaches a client.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from collections.abc import Sequence

from celery import Celery
from kombu import Exchange, Queue

from app.settings import Settings

ANALYZE_TASK = "calls.analyze"
AUDIO_METRICS_TASK = "calls.audio_metrics"
DELIVER_WEBHOOK_TASK = "webhooks.deliver"
REANALYSIS_JOB_TASK = "reanalysis.run_job"

# One queue per kind of work (docs/pipeline.md#queues), so a worker kind can be sized for its
# work and a transcript-only call never waits behind queued transcriptions.
CONTROL_QUEUE = "control"          # short database work: plan, transcript metrics, finalize, beat, webhooks
AUDIO_QUEUE = "audio"              # download, decode, speech activity, audio metrics (CPU, memory)
TRANSCRIPTION_QUEUE = "transcription"  # the audio stage of a call whose transcript is to be generated
LLM_QUEUE = "llm_judges"           # network-bound: many concurrent requests to the LLM provider
# The code judges have a queue of their own, so they can run in a worker kind of their own where
# the main workers' runtime forbids the user namespaces their box needs
# (docs/operations.md#the-code-judge-worker).
JUDGE_QUEUE = "code_judges"
# Every task went to `calls` before the queues were split. Messages already waiting there stay
# there across an upgrade: the control worker consumes it too, until it is empty for good.
LEGACY_QUEUE = "calls"
QUEUES = (CONTROL_QUEUE, AUDIO_QUEUE, TRANSCRIPTION_QUEUE, LLM_QUEUE, JUDGE_QUEUE, LEGACY_QUEUE)

# The routes, in one place: task name -> queue. A task not listed goes to CONTROL_QUEUE. The
# names are the stable task names of workers/pipeline.py (the web process cannot import it);
# tests/unit/test_queue_routes.py checks that every task the worker registers is listed here.
ROUTES: dict[str, str] = {
    ANALYZE_TASK: CONTROL_QUEUE,
    "calls.transcript_metrics": CONTROL_QUEUE,  # pure functions over a transcript: milliseconds
    "calls.finalize": CONTROL_QUEUE,
    "calls.sweep": CONTROL_QUEUE,
    "calls.erase_expired": CONTROL_QUEUE,
    "webhooks.dispatch": CONTROL_QUEUE,
    DELIVER_WEBHOOK_TASK: CONTROL_QUEUE,
    "webhooks.poll": CONTROL_QUEUE,
    REANALYSIS_JOB_TASK: CONTROL_QUEUE,
    "calls.fetch_recording": AUDIO_QUEUE,
    AUDIO_METRICS_TASK: AUDIO_QUEUE,
    "calls.llm_judges": LLM_QUEUE,
    "calls.code_judges": JUDGE_QUEUE,
}


def queue_for(task_name: str, transcribing: bool = False) -> str:
    """The queue `task_name` is sent to. `transcribing`: the call's transcript is still to be
    generated. The audio stage transcribes in the same pass as it decodes (one decode feeds
    speech activity and the speech recogniser), so it is the call's state, not the task name,
    that says whether it is transcription work — seconds to minutes per call — or seconds of
    decoding."""
    if task_name == AUDIO_METRICS_TASK and transcribing:
        return TRANSCRIPTION_QUEUE
    return ROUTES.get(task_name, CONTROL_QUEUE)

# A worker's publish must not stall its stage while Redis is down: one quick retry, then give up
# (the sweeper re-sends, docs/pipeline.md#the-sweeper).
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
        "task_default_queue": CONTROL_QUEUE,
        # Declared, so a worker started without --queues consumes every one of them (the legacy
        # queue included) and strands nothing; each is a direct exchange of its own name, as
        # Celery made them on the fly before.
        "task_queues": tuple(Queue(name, Exchange(name, "direct"), routing_key=name) for name in QUEUES),
        # For any send that names no queue; the senders in this code name it (queue_for). A
        # retry goes back to the queue it came from (Celery keeps the delivery info).
        "task_routes": {name: {"queue": queue} for name, queue in ROUTES.items()},
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


def queue_depths(celery: Celery) -> dict[str, int] | None:
    """Messages waiting in each queue (the length of its Redis list), or None when the broker
    does not answer."""
    try:
        with celery.connection_for_read() as conn:
            client = conn.default_channel.client
            return {name: int(client.llen(name)) for name in QUEUES}
    except Exception:  # kombu and redis raise many types; any of them means "cannot say"
        return None


def task_message(name: str, object_id: int, origin: str) -> str:
    """`name(object_id)` as Celery's send_task stores it in a Redis queue: task protocol 2 inside
    kombu's envelope. Built here because send_task costs ~0.13 ms of CPU per message even in a
    publish batch (routing, signals, argument reprs, entity declarations) — most of what the
    relay spent. tests/api/test_outbox.py compares it, field by field, with a message Celery
    itself publishes, so an upgrade that changes the format fails there; the end-to-end tests'
    workers consume nothing else."""
    task_id = str(uuid.uuid4())
    body = json.dumps([[object_id], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}])
    return json.dumps({
        "body": base64.b64encode(body.encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"lang": "py", "task": name, "id": task_id, "shadow": None, "eta": None, "expires": None,
                    "group": None, "group_index": None, "retries": 0, "timelimit": [None, None],
                    "root_id": task_id, "parent_id": None, "argsrepr": f"[{object_id!r}]", "kwargsrepr": "{}",
                    "origin": origin, "ignore_result": None, "replaced_task_nesting": 0, "stamped_headers": None,
                    "stamps": {}},
        "properties": {"correlation_id": task_id, "reply_to": "", "delivery_mode": 2,
                       "delivery_info": {"exchange": "", "routing_key": queue_for(name)}, "priority": 0,
                       "body_encoding": "base64", "delivery_tag": str(uuid.uuid4())},
    })


def make_celery(settings: Settings, name: str = "callscope") -> Celery:
    """The web process's producer: the shared configuration without `retry_on_timeout`, with
    which redis-py replays a pipeline that timed out and could push part of a batch twice. The
    relay needs no replay: a batch that fails is rolled back into the outbox and published
    again whole."""
    celery = Celery(name)
    config = celery_config(settings)
    config["broker_transport_options"] = {k: v for k, v in config["broker_transport_options"].items()
                                          if k != "retry_on_timeout"}
    celery.conf.update(config)
    return celery


class TaskQueue:
    """Publishes tasks by name. The web process never publishes from a request: its tasks go
    through the outbox (app/relay.py), which calls `publish` with a batch."""

    def __init__(self, celery: Celery):
        self._celery = celery

    def publish(self, tasks: Sequence[tuple[str, int]]) -> None:
        """Publish `name(object_id)` for each pair, in one Redis pipeline: one round trip for the
        batch. Raises what redis-py raises when the broker is unreachable; part of the batch may
        then have been pushed (the relay publishes it again: at least once)."""
        if not tasks:
            return
        origin = f"{socket.gethostname()}/{os.getpid()}"
        with self._celery.connection_for_write() as conn:
            pipe = conn.default_channel.client.pipeline(transaction=False)
            for name, object_id in tasks:
                pipe.lpush(queue_for(name), task_message(name, object_id, origin))
            pipe.execute()

    def depths(self) -> dict[str, int] | None:
        return queue_depths(self._celery)

    def ping(self) -> bool:
        try:
            with self._celery.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            return True
        except Exception:
            return False
