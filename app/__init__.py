"""callscope's web process. `create_app()` is its composition root: settings are read once,
the pool, broker producer and storage are built here (per process, after gunicorn forks), and
the outbox relay's thread is started here (docs/pipeline.md#the-outbox)."""
from __future__ import annotations

from flask import Flask

from app.settings import Settings


def create_app(settings: Settings | None = None, **overrides) -> Flask:
    from app.api import register_api
    from app.auth import KeyCache
    from app.db.pool import open_pool
    from app.logs import configure_logging
    from app.queue import TaskQueue, make_celery
    from app.ratelimit import RateLimiter
    from app.relay import OutboxRelay
    from app.service.deps import Deps
    from app.storage import make_storage
    from app.web import register_dashboard

    settings = settings or Settings.from_env(**overrides)
    configure_logging(settings.log_level)
    app = Flask("callscope")
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # the client address the sign-in throttle counts by: the one the trusted proxies saw
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's options
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    limits_url = settings.rate_limit_redis_url or settings.broker_url
    pool = open_pool(settings.database_url, settings.db_pool_max, settings.db_timeout_seconds)
    queue = TaskQueue(make_celery(settings, "callscope-web"))
    relay = OutboxRelay(settings.database_url, queue, settings.outbox_poll_seconds)
    app.extensions["callscope"] = Deps(
        settings=settings,
        pool=pool,
        queue=queue,
        storage=make_storage(settings),
        rate_limiter=RateLimiter.from_url(limits_url, settings.rate_limit_per_second, settings.rate_limit_burst),
        signin_limiter=RateLimiter.from_url(limits_url, settings.signin_per_minute / 60, settings.signin_per_minute),
        key_cache=KeyCache(settings.token_cache_seconds),
        tasks_committed=relay.wake,
    )
    app.extensions["callscope.relay"] = relay
    if settings.outbox_relay == "web":
        relay.start()
    register_api(app)
    register_dashboard(app)
    return app
