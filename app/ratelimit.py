"""Rate limiting shared by every web process: a token bucket per key, kept in Redis. The API
limits each API token; the dashboard limits sign-in attempts per client address.

Each key gets `rate` requests per second sustained and bursts of up to `burst`. The bucket
lives in Redis (one small hash per key, expiring when idle) and is updated atomically by a Lua
script using Redis's own clock, so any number of gunicorn workers on any number of machines see
one budget. If Redis cannot be reached the limiter lets requests through (fails open): the
database, not Redis, is the record of accepted calls, and a broker outage must not turn into
refused ingestion (nor into nobody signing in: the per-account lock-out still holds then).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

_BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: int = 0


class RateLimiter:
    """A token bucket per key (an API key's id, or `signin:<address>`); `rate` ≤ 0 disables limiting."""

    def __init__(self, client: redis.Redis | None, rate: float, burst: int):
        self._client, self.rate, self.burst = client, rate, max(1, burst)
        self._script = client.register_script(_BUCKET) if client is not None and rate > 0 else None

    @classmethod
    def from_url(cls, url: str, rate: float, burst: int) -> RateLimiter:
        if rate <= 0:
            return cls(None, rate, burst)
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        return cls(client, rate, burst)

    def check(self, key_id: str) -> Decision:
        if self._script is None:
            return Decision(True)
        try:
            wait = float(self._script(keys=[f"callscope:rate:{key_id}"], args=[self.rate, self.burst]))
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable; letting the request through", extra={"error": repr(exc)})
            return Decision(True)
        return Decision(True) if wait <= 0 else Decision(False, max(1, math.ceil(wait)))
