"""What stages need from the outside world, built once per worker process (after fork)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.db.pool import Pool
from app.settings import Settings
from app.storage import Storage
from workers.asr.base import Transcriber
from workers.fetch import Downloader
from workers.judges.llm import Judge
from workers.judges.sandbox import Sandbox


@dataclass(frozen=True)
class WorkerDeps:
    settings: Settings
    pool: Pool
    storage: Storage
    downloader: Downloader
    # send(task_name, call_id) publishes a stage; only workers/pipeline.py calls it
    send: Callable[..., None]
    # tasks waiting in the broker queue (None when the broker cannot say)
    queue_depth: Callable[[], int | None] = lambda: None
    judge: Judge | None = None        # LLM-as-judge (UnconfiguredJudge when no provider is set)
    sandbox: Sandbox | None = None    # code-as-judge, verified at worker start
    transcriber: Transcriber | None = None  # None: transcription is off (CALLSCOPE_TRANSCRIBER=none)
    # outbound webhooks: the downloader's address policy with the webhook timeouts
    webhook_client: Downloader | None = None
