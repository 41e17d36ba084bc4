"""The outbox relay: publishes the tasks requests committed to the outbox (docs/pipeline.md#the-outbox).

A request never talks to the broker. It commits its task in the same transaction as its rows
(app/db/outbox.py); the relay claims a batch (SKIP LOCKED, so relays in every web process work
side by side), publishes it in one Redis pipeline and commits the deletion only after the
publish returned. A broker outage therefore never reaches a client: the rows wait, and the relay
retries with a backoff until Redis answers. A relay that dies between publishing and committing
leaves its rows to be published again — at least once, which the idempotent stages absorb.

Where it runs: a daemon thread in each web process (CALLSCOPE_OUTBOX_RELAY=web, started by
create_app). The web is the producer, so wherever calls are accepted their tasks are relayed,
with no process kind to deploy and size apart from it.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from app import telemetry
from app.db import outbox as outbox_db
from app.db.pool import Pool, transaction
from app.queue import TaskQueue

log = logging.getLogger(__name__)
BATCH = 500            # rows per claim: one pipeline of LPUSHes, a few milliseconds
LINGER_SECONDS = 0.01  # after a wake-up, let the requests committing meanwhile join the batch
FIRST_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS = 0.2, 5.0


class OutboxRelay:
    """`poll_seconds`: how often it looks for rows nobody told it about. Requests of its own
    process wake it at once (`wake`, after their commit): the poll is for rows committed by a
    process that died before relaying them; an idle relay's poll is one empty claim
    (BEGIN, DELETE, COMMIT)."""

    def __init__(self, pool: Pool, queue: TaskQueue, poll_seconds: float, batch: int = BATCH,
                 sleep: Callable[[float], bool] | None = None):
        self._pool, self._queue, self._poll, self._batch = pool, queue, poll_seconds, batch
        self._stop, self._wake = threading.Event(), threading.Event()
        self._sleep = sleep or self._stop.wait  # returns True when asked to stop
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Tasks were committed: relay them now rather than at the next poll (never blocks)."""
        self._wake.set()

    def relay_once(self) -> int:
        """Publish one batch; returns how many tasks. Raises when the database or the broker
        fails (nothing is then deleted)."""
        with transaction(self._pool) as conn:
            tasks = outbox_db.claim_tasks(conn, self._batch)
            self._queue.publish([(task["task"], task["object_id"]) for task in tasks])
        for task in tasks:
            telemetry.OUTBOX_RELAYED.labels(task["task"]).inc()
            telemetry.OUTBOX_WAIT.labels(task["task"]).observe(max(0.0, task["waited_seconds"]))
        return len(tasks)

    def run(self) -> None:
        """Relay until stopped: again at once after a full batch; after a wake-up (plus a linger
        of 10 ms, so a busy process publishes batches, not single tasks) or `poll_seconds` when
        the outbox was drained; with a backoff doubling from 0.2 s to 5 s while publishing fails."""
        failures = 0
        while not self._stop.is_set():
            try:
                relayed = self.relay_once()
                failures = 0
            except Exception as exc:  # kombu, redis and psycopg raise many types: all mean "later"
                failures += 1
                relayed = 0
                log.warning("outbox relay: publish failed; retrying", extra={"error": repr(exc)[:300]})
            if relayed >= self._batch:
                continue
            if failures:
                if self._sleep(min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2 ** (failures - 1))):
                    return
            elif self._wake.wait(self._poll):
                self._wake.clear()
                if self._sleep(LINGER_SECONDS):
                    return

    def start(self) -> OutboxRelay:
        self._thread = threading.Thread(target=self.run, name="outbox-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)


def drain(relay: OutboxRelay, max_batches: int = 1000) -> int:
    """Relay in this thread until the outbox is empty; returns how many tasks (tests, benchmarks)."""
    total = 0
    for _ in range(max_batches):
        relayed = relay.relay_once()
        total += relayed
        if relayed == 0:
            break
    return total
