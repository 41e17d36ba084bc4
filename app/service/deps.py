"""What the use cases need from the outside world, built once per process by a composition root."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.auth import KeyCache
from app.db.pool import Pool
from app.queue import TaskQueue
from app.ratelimit import RateLimiter
from app.settings import Settings
from app.storage import Storage


@dataclass(frozen=True)
class Deps:
    settings: Settings
    pool: Pool
    queue: TaskQueue
    storage: Storage
    rate_limiter: RateLimiter       # per API token
    signin_limiter: RateLimiter     # dashboard sign-in attempts per client address
    key_cache: KeyCache
    # Called after a commit that wrote outbox rows: wakes this process's relay (app/relay.py).
    tasks_committed: Callable[[], None] = lambda: None
