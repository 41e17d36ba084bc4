"""The outbox relay: publishes the tasks requests committed to the outbox (docs/pipeline.md#the-outbox).

A request never talks to the broker. It commits its task in the same transaction as its rows
(app/db/outbox.py); the relay claims a batch (SKIP LOCKED: relays never take the same row),
publishes it in one Redis pipeline and commits the deletion only after the publish returned. A
broker outage therefore never reaches a client: the rows wait, and the relay retries with a
backoff until Redis answers. A relay that dies between publishing and committing leaves its
rows to be published again — at least once, which the idempotent stages absorb.

Where it runs: a thread in each web process (CALLSCOPE_OUTBOX_RELAY=web, started by
create_app), so wherever calls are accepted a relay runs, with no process kind to deploy apart.
One of them leads (a Postgres advisory lock held by its session) and relays for every process:
one poller per database instead of one per web process, and batches as large as the traffic
makes them. The others try to take over every second, which they do as soon as the leader's
session ends.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from app import telemetry
from app.db import outbox as outbox_db
from app.db.pool import Conn, connect
from app.queue import TaskQueue

log = logging.getLogger(__name__)
BATCH = 500            # rows per claim: one pipeline of LPUSHes, a few milliseconds
LINGER_SECONDS = 0.01  # after a wake-up, let the requests committing meanwhile join the batch
FOLLOW_SECONDS = 1.0   # how often a relay that does not lead tries to
FIRST_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS = 0.2, 5.0
# The relay's own session: its deletions need not wait for the disk (a deletion lost in a
# Postgres crash only publishes its tasks again), and Postgres notices a leader whose machine
# vanished within ~25 s (keepalives), which releases the leadership to another relay.
SESSION = {"synchronous_commit": "off", "tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5",
           "tcp_keepalives_count": "3"}


class OutboxRelay:
    """`poll_seconds`: how often the leader looks for new rows. Requests of the leader's own
    process also wake it at once (`wake`, after their commit)."""

    def __init__(self, database_url: str, queue: TaskQueue, poll_seconds: float, batch: int = BATCH,
                 sleep: Callable[[float], bool] | None = None, follow_seconds: float = FOLLOW_SECONDS):
        self._url, self._queue, self._poll, self._batch = database_url, queue, poll_seconds, batch
        self._follow = follow_seconds
        self._stop, self._wake = threading.Event(), threading.Event()
        self._sleep = sleep or self._stop.wait  # returns True when asked to stop
        self._conn: Conn | None = None
        self._thread: threading.Thread | None = None
        self.leading = False

    def wake(self) -> None:
        """Tasks were committed: relay them now rather than at the next poll (never blocks)."""
        self._wake.set()

    def relay_once(self) -> int:
        """Publish one batch; returns how many tasks. Raises when the database or the broker
        fails (nothing is then deleted)."""
        conn = self._connection()
        try:
            with conn.transaction():
                tasks = outbox_db.claim_tasks(conn, self._batch)
                self._queue.publish([(task["task"], task["object_id"]) for task in tasks])
        except Exception:
            if conn.closed or conn.broken:
                self._disconnect()
            raise
        for task in tasks:
            telemetry.OUTBOX_RELAYED.labels(task["task"]).inc()
            telemetry.OUTBOX_WAIT.labels(task["task"]).observe(max(0.0, task["waited_seconds"]))
        return len(tasks)

    def run(self) -> None:
        """Follow until leading; then relay until stopped: again at once after a full batch;
        after a wake-up (plus a linger of 10 ms, so a busy process publishes batches, not single
        tasks) or `poll_seconds` when the outbox was drained; with a backoff doubling from 0.2 s
        to 5 s while publishing fails. A broken session ends the leadership."""
        failures = 0
        while not self._stop.is_set():
            if not self.leading and not self._try_to_lead():
                if self._stop.wait(self._follow):
                    return
                continue
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

    def _try_to_lead(self) -> bool:
        try:
            conn = self._connection()
            self.leading = outbox_db.try_to_lead(conn)
            conn.commit()
        except Exception as exc:  # the database is unreachable: follow, and try again later
            log.warning("outbox relay: cannot reach the database", extra={"error": repr(exc)[:300]})
            self._disconnect()
        return self.leading

    def _connection(self) -> Conn:
        if self._conn is None:
            self._conn = connect(self._url, **SESSION)
        return self._conn

    def _disconnect(self) -> None:
        conn, self._conn, self.leading = self._conn, None, False
        if conn is not None:
            conn.close()

    def start(self) -> OutboxRelay:
        self._thread = threading.Thread(target=self.run, name="outbox-relay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread and the session (which hands the leadership over)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._disconnect()


def drain(relay: OutboxRelay, max_batches: int = 1000) -> int:
    """Relay in this thread until the outbox is empty; returns how many tasks (tests, benchmarks)."""
    total = 0
    for _ in range(max_batches):
        relayed = relay.relay_once()
        total += relayed
        if relayed == 0:
            break
    return total
