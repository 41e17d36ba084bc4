"""The worker process's composition root: the Celery app (configured from settings read once),
the beat schedule, and the per-process resources built lazily in each child after fork."""
from __future__ import annotations

import logging
import os
import threading

from celery import Celery, signals

from app import telemetry
from app.logs import configure_logging, log_context
from app.queue import celery_config, queue_depths, queue_for
from app.settings import Settings
from workers import pipeline
from workers.context import WorkerDeps

log = logging.getLogger(__name__)
# Workers sign nothing (tokens and local-storage links are the web process's), so they start
# without CALLSCOPE_JWT_KEYS and CALLSCOPE_SECRET_KEY: a code-judge worker holds no secret beyond
# its broker and database (docs/operations.md#the-code-judge-worker).
settings = Settings.from_env(secrets=False)

celery = Celery("callscope-worker", include=["workers.tasks"])
celery.conf.update(celery_config(settings))
# a pool process loads the speech model and warms the voice models before it reports up
# (worker_process_init, ~4–5 s on 2 cores); Celery's default 4 s would kill it as hung
celery.conf.worker_proc_alive_timeout = 60
celery.conf.beat_schedule = {
    "sweep-stale-calls": {"task": pipeline.SWEEP, "schedule": float(settings.sweep_interval_seconds),
                          "options": {"queue": queue_for(pipeline.SWEEP), "expires": settings.sweep_interval_seconds}},
    "poll-webhooks": {"task": pipeline.POLL_WEBHOOKS, "schedule": settings.webhook_poll_seconds,
                      "options": {"queue": queue_for(pipeline.POLL_WEBHOOKS), "expires": settings.webhook_poll_seconds}},
    "erase-expired-calls": {"task": pipeline.ERASE_EXPIRED, "schedule": float(settings.retention_interval_seconds),
                            "options": {"queue": queue_for(pipeline.ERASE_EXPIRED),
                                       "expires": settings.retention_interval_seconds}},
}
app = celery  # `celery -A workers.celery_app` looks for `app` or `celery`

_deps: WorkerDeps | None = None
_deps_lock = threading.Lock()


def queue_depth() -> int | None:
    """Messages waiting in all queues together (app/queue.py), or None if the broker is unreachable."""
    depths = queue_depths(celery)
    return None if depths is None else sum(depths.values())


def deps() -> WorkerDeps:
    """Per-process resources, built on first use — in the child that runs tasks, after fork."""
    global _deps
    if _deps is None:
        with _deps_lock:
            if _deps is None:
                from app.db.pool import open_pool
                from app.storage import make_storage
                from workers.addresses import AddressPolicy
                from workers.fetch import Downloader, FetchLimits

                limits = FetchLimits(settings.fetch_connect_timeout, settings.fetch_read_timeout,
                                     settings.fetch_total_timeout, settings.fetch_max_redirects,
                                     settings.max_recording_bytes)
                # one policy for recordings and webhook targets alike: the same networks and ports
                policy = AddressPolicy(settings.fetch_networks, settings.fetch_ports)
                _deps = WorkerDeps(
                    settings=settings,
                    pool=open_pool(settings.database_url, settings.db_pool_max, settings.db_timeout_seconds),
                    storage=make_storage(settings),
                    downloader=Downloader(policy, limits),
                    send=pipeline.publisher(celery),
                    queue_depth=queue_depth,
                    judge=make_judge(settings),
                    sandbox=make_sandbox(settings),
                    transcriber=make_transcriber(settings),
                    webhook_client=Downloader(policy, FetchLimits(
                        settings.webhook_connect_timeout, settings.webhook_read_timeout,
                        settings.webhook_connect_timeout + settings.webhook_read_timeout, 0, 64 * 1024)),
                )
    return _deps


def make_transcriber(settings: Settings):
    """The configured speech recogniser (None when off). A local model that is missing or
    broken raises TranscriberUnavailable here, at worker start, never mid-call."""
    if settings.transcriber == "none":
        return None
    if settings.transcriber == "openai":
        from workers.asr.remote import OpenAITranscriber

        return OpenAITranscriber(settings.asr_base_url, settings.asr_api_key, settings.asr_remote_model,
                                 settings.asr_timeout_seconds)
    from workers.asr.local import WhisperTranscriber

    return WhisperTranscriber(settings.asr_model, settings.asr_threads)


def make_judge(settings: Settings):
    from workers.judges.llm import OpenAIJudge, UnconfiguredJudge

    if not settings.llm_base_url:
        return UnconfiguredJudge()
    return OpenAIJudge(settings.llm_base_url, settings.llm_api_key, settings.llm_model,
                       settings.llm_timeout_seconds, settings.llm_concurrency, settings.llm_max_retries,
                       settings.retry_backoff_seconds)


def make_sandbox(settings: Settings):
    """The code-judge sandbox, checked by running a probe under the real limits (raises
    SandboxUnavailable saying what to change)."""
    from workers.judges.sandbox import Sandbox, SandboxConfig

    sandbox = Sandbox(SandboxConfig(settings.code_judge_timeout_seconds, settings.code_judge_memory_mb,
                                    settings.code_judge_isolation, settings.code_judge_user,
                                    settings.code_judge_python))
    sandbox.verify()
    return sandbox


@signals.worker_init.connect
def _check_engines(**_):
    """Fail at start, not mid-call: a worker that cannot judge code or find its speech model
    must not consume calls. (The model is only located here; each pool process loads it.)"""
    make_sandbox(settings)
    if settings.transcriber == "local":
        from workers.asr.local import model_path

        model_path(settings.asr_model)


@signals.worker_init.connect
def _serve_metrics(**_):
    """The worker's Prometheus endpoint (CALLSCOPE_WORKER_METRICS_PORT), in the main process
    before the pool starts; it reads what every pool process counted (PROMETHEUS_MULTIPROC_DIR)."""
    telemetry.reset_metrics_dir(settings.metrics_dir)  # pool processes write there, served or not
    if settings.worker_metrics_port:
        telemetry.serve(settings.worker_metrics_port, settings.worker_metrics_address, settings.metrics_dir)


@signals.worker_process_shutdown.connect
def _pool_process_gone(pid=None, **_):
    telemetry.process_exited(settings.metrics_dir, pid or os.getpid())


@signals.worker_process_init.connect
def _load_engines(**_):
    """Each pool process builds its resources (and loads the speech model and the voice
    models) before its first task, so no call pays for it."""
    from workers.audio.voice import warm_up

    deps()
    warm_up()


@signals.setup_logging.connect
def _logging(**_):
    configure_logging(settings.log_level)


@signals.task_prerun.connect
def _log_task(task=None, args=None, **_):
    context = {"task": task.name}
    if args and isinstance(args[0], int):
        context["call_id"] = args[0]
    log_context.set(context)


@signals.task_postrun.connect
def _unlog_task(**_):
    log_context.set({})
