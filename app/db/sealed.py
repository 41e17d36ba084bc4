"""Every sealed secret column (app/secretbox.py), for re-sealing after an encryption key rotation."""
from __future__ import annotations

from psycopg import sql

from app.db.pool import Conn

# table → its sealed columns (nullable ones may hold NULL)
SEALED_COLUMNS = {"integrations": ("signing_secret", "api_key"), "webhook_endpoints": ("secret", "previous_secret")}


def sealed_values(conn: Conn, table: str) -> list[dict]:
    """Each row's id and sealed values, locked until the caller's transaction ends."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in SEALED_COLUMNS[table])
    return conn.execute(sql.SQL("SELECT id, {} FROM {} ORDER BY id FOR UPDATE").format(
        columns, sql.Identifier(table))).fetchall()


def set_sealed(conn: Conn, table: str, row_id: int, values: dict) -> None:
    assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values)
    conn.execute(sql.SQL("UPDATE {} SET {} WHERE id = %s").format(sql.Identifier(table), assignments),
                 (*values.values(), row_id))
