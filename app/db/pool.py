"""Connection pool: one per process, opened after fork by each composition root."""
from __future__ import annotations

import contextlib
from typing import Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from app.errors import ServiceUnavailable


def open_pool(database_url: str, max_size: int, timeout: float) -> ConnectionPool:
    """Open a pool that fails fast (→ 503) instead of hanging when Postgres is down."""
    pool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        open=False,
        kwargs={"row_factory": dict_row, "connect_timeout": max(1, int(timeout))},
        check=ConnectionPool.check_connection,
        reconnect_timeout=0,  # keep retrying forever in the background; requests get 503 meanwhile
    )
    pool.open(wait=False)
    return pool


@contextlib.contextmanager
def transaction(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """One unit of work: commit on success, roll back on error; DB outages → ServiceUnavailable."""
    try:
        with pool.connection() as conn:
            with conn.transaction():
                yield conn
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise ServiceUnavailable(details={"reason": type(exc).__name__}) from exc


def connect(database_url: str) -> psycopg.Connection:
    """A single autocommit-off connection (CLI, migrations, tests)."""
    return psycopg.connect(database_url, row_factory=dict_row)
