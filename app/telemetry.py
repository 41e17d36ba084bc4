"""Prometheus metrics of the web and worker processes: the one home of prometheus_client
(docs/operations.md#metrics lists every series and what it means).

Every metric has labels, so none has a value before its first use: with several processes
(gunicorn workers, Celery's prefork pool) prometheus_client keeps each process's values in
files under PROMETHEUS_MULTIPROC_DIR, and a value made at import time would be written by a
process (the gunicorn or Celery parent) that never serves or works.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Web process
HTTP_REQUESTS = Counter("callscope_http_requests_total", "HTTP requests answered, by route template, method and status.",
                        ["route", "method", "status"])
HTTP_DURATION = Histogram("callscope_http_request_duration_seconds", "Time to answer an HTTP request, by route template.",
                          ["route", "method"],
                          buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
HTTP_ERRORS = Counter("callscope_http_errors_total", "4xx and 5xx answers, by status and error code (docs/api.md#errors).",
                      ["status", "code"])
CALLS_ACCEPTED = Counter("callscope_calls_accepted_total", "Calls accepted for analysis (202), by observation type.",
                         ["observation_type"])
OUTBOX_RELAYED = Counter("callscope_outbox_relayed_total", "Tasks the outbox relay published to the broker, by task.",
                         ["task"])
OUTBOX_WAIT = Histogram("callscope_outbox_wait_seconds",
                        "Time a task waited in the outbox, from the commit that wrote it to the relay's claim.",
                        ["task"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0))

# Workers
STAGE_DURATION = Histogram("callscope_stage_duration_seconds", "Time one run of a pipeline stage took, by stage.",
                           ["stage"],
                           buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0))
STAGE_RUNS = Counter("callscope_stage_runs_total",
                     "Stage runs by outcome: what the stage reported, `nothing_to_do`, `failed` (the branch ended "
                     "with a code), `retry` (a transient failure, retried) or `crashed`.", ["stage", "outcome"])
STAGE_FAILURES = Counter("callscope_stage_failures_total", "Stage failures that ended a branch, by failure code.",
                         ["stage", "code"])
TASK_RETRIES = Counter("callscope_task_retries_total", "Retries scheduled by a task's retry policy.", ["task"])
STAGE_REDELIVERIES = Counter("callscope_stage_redeliveries_total",
                             "A stage started again for the same call, not as a retry (a worker died, the visibility "
                             "timeout passed, or the sweeper re-sent it).", ["stage"])
PROVIDER_DURATION = Histogram("callscope_provider_request_duration_seconds",
                              "Requests to the LLM judge (one HTTP request) and the transcriber (one call's channels), "
                              "by outcome (`ok` or `error`).", ["provider", "outcome"],
                              buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0))

# The backlog (scraped from the web process, see backlog_collector)
PENDING_AGES = (("0-1m", 60), ("1m-5m", 300), ("5m-15m", 900), ("15m-1h", 3600), ("1h+", None))


@dataclass(frozen=True)
class Backlog:
    """What waits: messages per queue (None: the broker did not answer), pending calls by age
    and tasks not yet relayed from the outbox."""

    queue_depths: Mapping[str, int] | None
    pending_by_age: Mapping[str, int] | None   # None: the database did not answer
    oldest_pending_seconds: float | None
    outbox: tuple[int, float] | None = None    # (tasks waiting, oldest's age in seconds)


class BacklogCollector(Collector):
    """The backlog as gauges, read when scraped (queue depth, pending calls, reachability)."""

    def __init__(self, read: Callable[[], Backlog]):
        self._read = read

    def collect(self):
        backlog = self._read()
        depth = GaugeMetricFamily("callscope_queue_depth", "Messages waiting in each broker queue.", labels=["queue"])
        for queue, count in (backlog.queue_depths or {}).items():
            depth.add_metric([queue], count)
        pending = GaugeMetricFamily("callscope_calls_pending", "Calls pending analysis, by time since they were accepted.",
                                    labels=["age"])
        for age, count in (backlog.pending_by_age or {}).items():
            pending.add_metric([age], count)
        families = [depth, pending]
        if backlog.oldest_pending_seconds is not None:
            families.append(GaugeMetricFamily("callscope_oldest_pending_call_age_seconds",
                                              "Seconds since the oldest pending call was accepted (0: none pending).",
                                              value=backlog.oldest_pending_seconds))
        if backlog.outbox is not None:
            families.append(GaugeMetricFamily("callscope_outbox_waiting", "Tasks committed to the outbox, not yet relayed.",
                                              value=backlog.outbox[0]))
            families.append(GaugeMetricFamily("callscope_outbox_oldest_age_seconds",
                                              "Seconds the oldest task in the outbox has waited (0: none).",
                                              value=backlog.outbox[1]))
        families.append(GaugeMetricFamily("callscope_broker_up", "1 when the broker answered the queue-depth read.",
                                          value=0 if backlog.queue_depths is None else 1))
        families.append(GaugeMetricFamily("callscope_database_up", "1 when the database answered the pending-calls read.",
                                          value=0 if backlog.pending_by_age is None else 1))
        return families


def exposition(metrics_dir: str, backlog: Callable[[], Backlog] | None = None) -> tuple[bytes, str]:
    """The text format of every metric of this process — of every process sharing `metrics_dir`
    when it is set — plus the backlog read now. (body, content type)."""
    body = generate_latest(_registry(metrics_dir))
    if backlog is not None:
        extra = CollectorRegistry()
        extra.register(BacklogCollector(backlog))
        body += generate_latest(extra)
    return body, CONTENT_TYPE_LATEST


def _registry(metrics_dir: str) -> CollectorRegistry:
    """This process's metrics, or, with `metrics_dir`, the sum over every process writing there."""
    if not metrics_dir:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=metrics_dir)
    return registry


def reset_metrics_dir(metrics_dir: str) -> None:
    """Empty the multi-process directory at the start of a web or worker instance: files left by
    an earlier run would add its counts to this one's."""
    if metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.makedirs(metrics_dir, exist_ok=True)


def process_exited(metrics_dir: str, pid: int) -> None:
    """A gunicorn worker or pool process ended: its live gauges go (counters stay counted)."""
    if metrics_dir:
        multiprocess.mark_process_dead(pid, metrics_dir)


def serve(port: int, address: str, metrics_dir: str) -> None:
    """The worker's endpoint: GET http://address:port/metrics, in a thread of the worker's main
    process, reading every pool process's files when `metrics_dir` is set."""
    start_http_server(port, address, registry=_registry(metrics_dir))
    log.info("metrics endpoint up", extra={"port": port, "address": address})


@contextmanager
def timed_stage(stage: str) -> Iterator[dict]:
    """Time one stage run; the caller sets `outcome` in the yielded dict (`crashed` if it raises
    something it did not name)."""
    run = {"outcome": "crashed"}
    started = time.perf_counter()
    try:
        yield run
    finally:
        STAGE_DURATION.labels(stage).observe(time.perf_counter() - started)
        STAGE_RUNS.labels(stage, run["outcome"]).inc()


@contextmanager
def timed_request(provider: str) -> Iterator[dict]:
    """Time one request to a provider (`llm`, `transcription`): `error` when it raises or the
    caller sets `ok` to False in the yielded dict (an answer that is no answer, e.g. a 503)."""
    request = {"ok": False}
    started = time.perf_counter()
    try:
        request["ok"] = True
        yield request
    except BaseException:
        request["ok"] = False
        raise
    finally:
        PROVIDER_DURATION.labels(provider, "ok" if request["ok"] else "error").observe(time.perf_counter() - started)
