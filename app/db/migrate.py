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
        files = sorted(
            (f for f in resources.files("app.db.migrations").iterdir() if f.name.endswith(".sql")),
            key=lambda f: f.name,
        )
        for file in files:
            version = file.name.removesuffix(".sql")
            if version in done:
                continue
            conn.execute(file.read_text(encoding="utf-8"))
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now
