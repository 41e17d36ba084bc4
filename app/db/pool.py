"""Connection pool: one per process, opened after fork by each composition root."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from app.errors import ServiceUnavailable, ValidationFailed

# Every connection returns rows as dicts (column name → value); the typed rows callers rely
# on are TypedDicts in the app/db modules that return them.
Conn = psycopg.Connection[DictRow]
Pool = ConnectionPool[Conn]


def open_pool(database_url: str, max_size: int, timeout: float) -> Pool:
    """Open a pool that fails fast (→ 503) instead of hanging when Postgres is down.

    Connections are in autocommit mode: a single statement is its own transaction (one round
    trip, which is what keeps POST /calls fast), and `transaction()` opens an explicit one for
    units of several statements. A connection broken by a Postgres restart is discarded by the
    pool when it comes back in a bad state.
    """
    kwargs: dict[str, Any] = {"connect_timeout": max(1, int(timeout)), "autocommit": True}
    pool = ConnectionPool(
        database_url,
        connection_class=psycopg.Connection[DictRow],
        min_size=1,
        max_size=max_size,
        timeout=timeout,
        open=False,
        kwargs={"row_factory": dict_row, **kwargs},
        reconnect_timeout=0,  # keep retrying forever in the background; requests get 503 meanwhile
    )
    pool.open(wait=False)
    return pool


def one(row: DictRow | None) -> DictRow:
    """The row of a statement that always returns one (INSERT … RETURNING, count(*), a row the
    caller has just locked); a None here is a bug, not a missing entity."""
    if row is None:
        raise LookupError("the statement returned no row")
    return row


@contextlib.contextmanager
def _unavailable_on_outage() -> Iterator[None]:
    """Outages → ServiceUnavailable (503); a value Postgres refuses to store (a NUL character,
    a number out of range) → ValidationFailed (422), never an unhandled 500."""
    try:
        yield
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise ServiceUnavailable(details={"reason": type(exc).__name__}) from exc
    except psycopg.DataError as exc:
        raise ValidationFailed("A value cannot be stored.", details={"body": [str(exc).splitlines()[0]]}) from exc


@contextlib.contextmanager
def transaction(pool: Pool) -> Iterator[Conn]:
    """One unit of work: commit on success, roll back on error; DB outages → ServiceUnavailable."""
    with _unavailable_on_outage(), pool.connection() as conn, conn.transaction():
        yield conn


@contextlib.contextmanager
def autocommit(pool: Pool) -> Iterator[Conn]:
    """A connection whose every statement commits alone: for single reads, or one atomic
    statement, without the BEGIN/COMMIT round trips. DB outages → ServiceUnavailable."""
    with _unavailable_on_outage(), pool.connection() as conn:
        yield conn


def connect(database_url: str, **options: str) -> Conn:
    """A single autocommit-off connection (CLI, migrations, tests, the outbox relay); `options`
    are server settings for this session only. Postgres unreachable → ServiceUnavailable (the
    CLI prints its code instead of a traceback)."""
    extra: dict[str, Any] = {"options": " ".join(f"-c {name}={value}" for name, value in options.items())}
    with _unavailable_on_outage():
        return psycopg.connect(database_url, row_factory=dict_row, **(extra if options else {}))


def ping(conn: Conn) -> None:
    """One round trip: raises when the database does not answer (readiness)."""
    conn.execute("SELECT 1")
