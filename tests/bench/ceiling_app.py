"""The throughput ceiling for comparison: a bare Flask endpoint doing one INSERT and one broker
publish (Redis LPUSH), nothing else: no auth, no validation, no metric rows."""
import os

import psycopg
import redis
from flask import Flask, request
from psycopg_pool import ConnectionPool


def create_app() -> Flask:
    app = Flask("ceiling")
    pool = ConnectionPool(os.environ["CALLSCOPE_DATABASE_URL"], min_size=1, max_size=2)
    broker = redis.Redis.from_url(os.environ["CALLSCOPE_BROKER_URL"])
    with psycopg.connect(os.environ["CALLSCOPE_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_ceiling (id bigserial PRIMARY KEY, body jsonb)")

    @app.post("/ceiling")
    def ceiling():
        with pool.connection() as conn:
            row = conn.execute("INSERT INTO bench_ceiling (body) VALUES (%s) RETURNING id",
                               (request.get_data(as_text=True),)).fetchone()
        broker.lpush("bench-ceiling", row[0])
        return {"id": row[0]}, 202

    return app
