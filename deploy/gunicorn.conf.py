"""gunicorn settings for the `web` process (Procfile). The app itself reads CALLSCOPE_* once in
create_app(); this file only decides where and how many."""
import multiprocessing
import os

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
