"""The workers' one failure vocabulary and one retry policy (docs/pipeline.md#failures-and-retries).

Every failure a stage can meet is a `StageFailure`: a stable code from app/errors.py and whether
a retry may help. Transient ones (a timeout, a 5xx, a store or database that is briefly away)
are retried by the task with `RetryPolicy.delay`; permanent ones, and transient ones with no
retry left, end the stage's branch with the code. Exceptions of the audio room (DecodeError,
UndecodableAudio), which must not import this module, are mapped at the stage boundary.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

MAX_RETRY_DELAY = 300.0  # seconds; far below the broker's visibility timeout (docs/configuration.md)


class StageFailure(Exception):
    """A stage could not do its work: `code` (snake_case, app/errors.py) and whether a retry may help."""

    def __init__(self, code: str, message: str, transient: bool = False):
        super().__init__(message)
        self.code, self.message, self.transient = code, message, transient

    def __repr__(self) -> str:
        return f"StageFailure({self.code!r}, {self.message!r}, transient={self.transient})"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a transient failure is retried and how long to wait: exponential backoff with
    full jitter — try n waits uniformly in [base·2ⁿ / 2, base·2ⁿ], capped at `cap_seconds`."""

    retries: int
    base_seconds: float
    cap_seconds: float = MAX_RETRY_DELAY

    def retries_left(self, retries_done: int) -> bool:
        return retries_done < self.retries

    def delay(self, retries_done: int, retry_after: float | None = None) -> float:
        """Seconds before retry number `retries_done + 1`; a server's Retry-After wins (capped)."""
        if retry_after is not None:
            return min(self.cap_seconds, max(0.0, retry_after))
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** retries_done))
        return random.uniform(ceiling / 2, ceiling)


# Postgres unreachable mid-stage: the stage re-reads its state, so a retry repeats nothing that
# was committed. Five retries from 2 s span about a minute; a longer outage leaves the call
# pending for the sweeper (docs/pipeline.md#the-sweeper), never failed.
DATABASE_OUTAGE = RetryPolicy(retries=5, base_seconds=2.0)
