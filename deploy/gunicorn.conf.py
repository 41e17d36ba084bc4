"""gunicorn settings for the `web` process (Procfile). The app itself reads CALLSCOPE_* once in
create_app(); this file only decides where and how many."""
import multiprocessing
import os
import tempfile

bind = f"{os.environ.get('CALLSCOPE_HOST', '127.0.0.1')}:{os.environ.get('CALLSCOPE_PORT', '8000')}"
# Sync workers: each request is a few milliseconds of Postgres + one broker publish.
workers = int(os.environ.get("CALLSCOPE_WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
# No preload: every worker builds its own connection pool and broker producer after the fork.
preload_app = False
accesslog = os.environ.get("CALLSCOPE_ACCESS_LOG", None)
errorlog = "-"

# Prometheus multi-process mode (docs/operations.md#metrics): each gunicorn worker writes its
# counts to files in one directory and /metrics, whichever worker answers it, reads them all.
# prometheus_client reads the variable when a worker imports it, so it is set here, in the
# master, before any worker exists; one directory per instance (per port on a shared host).
# Set but empty counts as unset: prometheus_client would write its files to the working directory.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(
        tempfile.gettempdir(), f"callscope-web-metrics-{os.environ.get('CALLSCOPE_PORT', '8000')}")


def on_starting(server):
    """Empty the directory: an earlier run's files would add to this run's counts."""
    from app.telemetry import reset_metrics_dir

    reset_metrics_dir(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def child_exit(server, worker):
    """A worker died or was replaced: drop its live gauges (its counts stay counted)."""
    from app.telemetry import process_exited

    process_exited(os.environ["PROMETHEUS_MULTIPROC_DIR"], worker.pid)
