"""Dashboard users, their sessions and their invitation links. Tokens are stored as SHA-256
digests only (docs/dashboard.md#sign-in); functions take `conn` first and never commit."""
from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from app.db.pool import Conn, one

_COLUMNS = "id, workspace_id, email, password_hash, is_admin, failed_signins, locked_until, created_at"


class UserRow(TypedDict):
    id: int
    workspace_id: int
    email: str
    password_hash: str | None
    is_admin: bool
    failed_signins: int
    locked_until: datetime | None
    created_at: datetime


def insert_user(conn: Conn, workspace_id: int, email: str, password_hash: str | None, is_admin: bool) -> UserRow | None:
    """None when the email is taken (any workspace: sign-in asks for no workspace)."""
    return conn.execute(
        "INSERT INTO users (workspace_id, email, password_hash, is_admin) VALUES (%s, %s, %s, %s)"
        f" ON CONFLICT (lower(email)) DO NOTHING RETURNING {_COLUMNS}",
        (workspace_id, email, password_hash, is_admin),
    ).fetchone()  # type: ignore[return-value]


def user_by_email(conn: Conn, email: str, for_update: bool = False) -> UserRow | None:
    lock = " FOR UPDATE" if for_update else ""
    return conn.execute(f"SELECT {_COLUMNS} FROM users WHERE lower(email) = lower(%s){lock}",
                        (email,)).fetchone()  # type: ignore[return-value]


def workspace_users(conn: Conn, workspace_id: int) -> list[UserRow]:
    return conn.execute(f"SELECT {_COLUMNS} FROM users WHERE workspace_id = %s ORDER BY lower(email)",
                        (workspace_id,)).fetchall()  # type: ignore[return-value]


def user_of_workspace(conn: Conn, workspace_id: int, user_id: int) -> UserRow | None:
    return conn.execute(f"SELECT {_COLUMNS} FROM users WHERE id = %s AND workspace_id = %s",
                        (user_id, workspace_id)).fetchone()  # type: ignore[return-value]


def delete_user(conn: Conn, user_id: int) -> None:
    """Remove a user; their sessions and links go with them (ON DELETE CASCADE)."""
    conn.execute("DELETE FROM users WHERE id = %s", (user_id,))


def record_failed_signin(conn: Conn, user_id: int, free_attempts: int, first_lock_seconds: int,
                         max_lock_seconds: int) -> UserRow:
    """Count a failure; from the `free_attempts`-th on, lock for first_lock_seconds, doubling
    with every further failure up to max_lock_seconds. Postgres's clock decides."""
    return one(conn.execute(
        "UPDATE users SET failed_signins = failed_signins + 1, updated_at = now(),"
        " locked_until = CASE WHEN failed_signins + 1 >= %(free)s THEN now() + make_interval(secs =>"
        "  least(%(max)s, %(first)s * power(2, least(30, failed_signins + 1 - %(free)s)))) ELSE locked_until END"
        f" WHERE id = %(id)s RETURNING {_COLUMNS}",
        {"free": free_attempts, "first": first_lock_seconds, "max": max_lock_seconds, "id": user_id},
    ).fetchone())  # type: ignore[return-value]


def is_locked(conn: Conn, user_id: int) -> bool:
    row = conn.execute("SELECT locked_until > now() AS locked FROM users WHERE id = %s", (user_id,)).fetchone()
    return bool(row and row["locked"])


def record_successful_signin(conn: Conn, user_id: int, new_hash: str | None = None) -> None:
    conn.execute(
        "UPDATE users SET failed_signins = 0, locked_until = NULL, updated_at = now(),"
        " password_hash = coalesce(%s, password_hash) WHERE id = %s",
        (new_hash, user_id),
    )


def set_password(conn: Conn, user_id: int, password_hash: str) -> None:
    """New password: the lock is lifted and every session of the user ends."""
    conn.execute("UPDATE users SET password_hash = %s, failed_signins = 0, locked_until = NULL, updated_at = now()"
                 " WHERE id = %s", (password_hash, user_id))
    conn.execute("DELETE FROM user_sessions WHERE user_id = %s", (user_id,))


def insert_session(conn: Conn, token_hash: bytes, user_id: int, csrf_token: str, expires_at: datetime) -> None:
    conn.execute("INSERT INTO user_sessions (token_hash, user_id, csrf_token, expires_at) VALUES (%s, %s, %s, %s)",
                 (token_hash, user_id, csrf_token, expires_at))


class SessionRow(TypedDict):
    user_id: int
    workspace_id: int
    email: str
    is_admin: bool
    csrf_token: str
    workspace_name: str


def live_session(conn: Conn, token_hash: bytes) -> SessionRow | None:
    return conn.execute(
        "SELECT s.user_id, u.workspace_id, u.email, u.is_admin, s.csrf_token, w.name AS workspace_name"
        " FROM user_sessions s JOIN users u ON u.id = s.user_id JOIN workspaces w ON w.id = u.workspace_id"
        " WHERE s.token_hash = %s AND s.expires_at > now()",
        (token_hash,),
    ).fetchone()  # type: ignore[return-value]


def delete_session(conn: Conn, token_hash: bytes) -> None:
    conn.execute("DELETE FROM user_sessions WHERE token_hash = %s OR expires_at < now()", (token_hash,))


def insert_invite(conn: Conn, token_hash: bytes, user_id: int, expires_at: datetime) -> None:
    """A new link replaces the user's unused ones."""
    conn.execute("DELETE FROM user_invites WHERE user_id = %s AND used_at IS NULL", (user_id,))
    conn.execute("INSERT INTO user_invites (token_hash, user_id, expires_at) VALUES (%s, %s, %s)",
                 (token_hash, user_id, expires_at))


def open_invite(conn: Conn, token_hash: bytes, for_update: bool = False) -> dict | None:
    """The user an unused, unexpired link is for (id, email, workspace_id); None otherwise."""
    lock = " FOR UPDATE OF i" if for_update else ""
    return conn.execute(
        "SELECT u.id, u.email, u.workspace_id FROM user_invites i JOIN users u ON u.id = i.user_id"
        f" WHERE i.token_hash = %s AND i.used_at IS NULL AND i.expires_at > now(){lock}",
        (token_hash,),
    ).fetchone()


def use_invite(conn: Conn, token_hash: bytes) -> None:
    conn.execute("UPDATE user_invites SET used_at = now() WHERE token_hash = %s", (token_hash,))
