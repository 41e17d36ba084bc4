"""Migrations: plain SQL files applied in name order, each once, under an advisory lock."""
from __future__ import annotations

from importlib import resources

from app.db.pool import Conn

# An arbitrary constant: concurrent `release` processes serialise on it.
_LOCK_ID = 0x63616C6C


def apply_migrations(conn: Conn) -> list[str]:
    """Apply pending migrations in one transaction; returns the versions applied."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in conn.execute("SELECT version FROM schema_migrations")}
        for file in _migration_files():
            version = file.name.removesuffix(".sql")
            if version in done:
                continue
            conn.execute(file.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now


def pending_migrations(conn: Conn) -> list[str]:
    """The versions not applied yet, in order (all of them on an empty database)."""
    done: set[str] = set()
    if conn.execute("SELECT 1 WHERE to_regclass('schema_migrations') IS NOT NULL").fetchone():
        done = {row["version"] for row in conn.execute("SELECT version FROM schema_migrations")}
    return [v for v in (f.name.removesuffix(".sql") for f in _migration_files()) if v not in done]


def _migration_files() -> list:
    return sorted((f for f in resources.files("app.db.migrations").iterdir() if f.name.endswith(".sql")),
                  key=lambda f: f.name)
