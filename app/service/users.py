"""Dashboard users: creation and password resets (CLI and admins), sign-in with lock-out,
server-side sessions, invitation links (docs/dashboard.md#sign-in)."""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app import passwords
from app.db import users as users_db
from app.db import workspaces as workspaces_db
from app.db.pool import Conn, transaction
from app.errors import Conflict, NotFound, RateLimited, Unauthorized, ValidationFailed
from app.paths import DASHBOARD_PREFIX
from app.service.deps import Deps

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)   # absolute: a stolen cookie is not good for long
INVITE_LIFETIME = timedelta(days=7)
# Lock-out: four free attempts; the fifth failure in a row locks the account for 30 s, each
# further one doubles that, up to an hour. Enough to stop guessing (a few hundred tries a day at
# most), short enough that a typo storm or an attacker locking a colleague out costs minutes.
FREE_ATTEMPTS, FIRST_LOCK_SECONDS, MAX_LOCK_SECONDS = 5, 30, 3600


@dataclass(frozen=True)
class SignedIn:
    """Who a browser session speaks for."""

    user_id: int
    workspace_id: int
    workspace_name: str
    email: str
    is_admin: bool
    csrf_token: str


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _checked_password(password: str) -> str:
    problem = passwords.password_problem(password)
    if problem:
        raise ValidationFailed(problem, details={"password": [problem]})
    return passwords.hash_password(password)


def _checked_email(email: str) -> str:
    email = email.strip()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise ValidationFailed("Not an email address.", details={"email": ["Not an email address."]})
    return email


def create_user(conn: Conn, workspace_id: int, email: str, password: str | None, is_admin: bool) -> dict:
    """A user of the workspace; without a password it can only sign in after following an invite
    link. Raises NotFound (workspace), Conflict (email taken), ValidationFailed."""
    email = _checked_email(email)
    password_hash = _checked_password(password) if password is not None else None
    with conn.transaction():
        if not workspaces_db.workspace_exists(conn, workspace_id):
            raise NotFound(f"No workspace {workspace_id}.")
        user = users_db.insert_user(conn, workspace_id, email, password_hash, is_admin)
    if user is None:
        raise Conflict("A user with this email already exists.", code="email_taken", details={"email": email})
    return {"id": user["id"], "workspace_id": workspace_id, "email": user["email"], "is_admin": user["is_admin"]}


def reset_password(conn: Conn, email: str, password: str) -> dict:
    """Set a new password (CLI): lifts the lock-out and ends every session of the user."""
    password_hash = _checked_password(password)
    with conn.transaction():
        user = users_db.user_by_email(conn, email, for_update=True)
        if user is None:
            raise NotFound(f"No user {email}.")
        users_db.set_password(conn, user["id"], password_hash)
    return {"id": user["id"], "email": user["email"], "sessions_ended": True}


def invite_url(public_base_url: str, token: str) -> str:
    """Where an invitation or set-password token is redeemed."""
    return f"{public_base_url}{DASHBOARD_PREFIX}/invite/{token}"


def new_invite_link(conn: Conn, user_id: int) -> str:
    """A one-time token for choosing a password (the caller makes the URL)."""
    token = secrets.token_urlsafe(32)
    users_db.insert_invite(conn, digest(token), user_id, datetime.now(UTC) + INVITE_LIFETIME)
    return token


def invite_user(deps: Deps, admin: SignedIn, email: str, is_admin: bool) -> str:
    """An admin adds a user to their own workspace; returns the invite token to hand over."""
    if not admin.is_admin:
        raise NotFound()  # the page does not exist for non-admins
    email = _checked_email(email)
    with transaction(deps.pool) as conn:
        user = users_db.insert_user(conn, admin.workspace_id, email, None, is_admin)
        if user is None:
            raise Conflict("A user with this email already exists.", code="email_taken", details={"email": email})
        return new_invite_link(conn, user["id"])


def cli_invite_link(conn: Conn, email: str) -> str:
    """A fresh set-password link for an existing user (the CLI's way to reset without typing a password)."""
    with conn.transaction():
        user = users_db.user_by_email(conn, email)
        if user is None:
            raise NotFound(f"No user {email}.")
        return new_invite_link(conn, user["id"])


def member_link(deps: Deps, admin: SignedIn, user_id: int) -> tuple[str, str]:
    """An admin's reset for a member: a fresh set-password link (email, token). The member's
    password keeps working until the link is used."""
    if not admin.is_admin:
        raise NotFound()
    with transaction(deps.pool) as conn:
        member = users_db.user_of_workspace(conn, admin.workspace_id, user_id)
        if member is None:
            raise NotFound("No such user.")
        return member["email"], new_invite_link(conn, user_id)


def remove_member(deps: Deps, admin: SignedIn, user_id: int) -> str:
    """An admin removes a member of their workspace (never themselves: a workspace must keep
    someone who can invite). Returns the removed email."""
    if not admin.is_admin:
        raise NotFound()
    if user_id == admin.user_id:
        raise ValidationFailed("You cannot remove yourself.")
    with transaction(deps.pool) as conn:
        member = users_db.user_of_workspace(conn, admin.workspace_id, user_id)
        if member is None:
            raise NotFound("No such user.")
        users_db.delete_user(conn, user_id)
    log.info("dashboard user removed", extra={"user_id": user_id, "by_user_id": admin.user_id})
    return member["email"]


def delete_user(conn: Conn, email: str) -> dict:
    """Remove a user (CLI); their sessions end at once."""
    with conn.transaction():
        user = users_db.user_by_email(conn, email, for_update=True)
        if user is None:
            raise NotFound(f"No user {email}.")
        users_db.delete_user(conn, user["id"])
    return {"id": user["id"], "email": user["email"], "deleted": True}


def workspace_users(deps: Deps, admin: SignedIn) -> list[users_db.UserRow]:
    if not admin.is_admin:
        raise NotFound()
    with transaction(deps.pool) as conn:
        return users_db.workspace_users(conn, admin.workspace_id)


def invited_email(deps: Deps, token: str) -> str:
    with transaction(deps.pool) as conn:
        invite = users_db.open_invite(conn, digest(token))
    if invite is None:
        raise NotFound("This link is invalid, used or expired.")
    return invite["email"]


def accept_invite(deps: Deps, token: str, password: str) -> str:
    """Set the password of the invited user (once); returns a new session token."""
    password_hash = _checked_password(password)
    with transaction(deps.pool) as conn:
        invite = users_db.open_invite(conn, digest(token), for_update=True)
        if invite is None:
            raise NotFound("This link is invalid, used or expired.")
        users_db.use_invite(conn, digest(token))
        users_db.set_password(conn, invite["id"], password_hash)
        return _start_session(conn, invite["id"])


def _start_session(conn: Conn, user_id: int) -> str:
    token = secrets.token_urlsafe(32)
    users_db.insert_session(conn, digest(token), user_id, secrets.token_urlsafe(32),
                            datetime.now(UTC) + SESSION_LIFETIME)
    return token


def sign_in(deps: Deps, email: str, password: str, client: str) -> str:
    """A new session token for the right email and password. Raises Unauthorized
    (`invalid_credentials`: the same answer for an unknown email and a wrong password) or
    RateLimited: `too_many_signins` when the `client` address spent its attempts
    (CALLSCOPE_SIGNIN_PER_MINUTE, counted before any lookup or hashing), `account_locked` (with
    the seconds left) while the account is locked."""
    decision = deps.signin_limiter.check(f"signin:{client}")
    if not decision.allowed:
        log.warning("sign-in refused: too many attempts from one address", extra={"client": client})
        raise RateLimited("Too many sign-in attempts from your address: wait a moment and try again.",
                          code="too_many_signins", details={"retry_after_seconds": decision.retry_after_seconds})
    if len(password) > passwords.MAX_LENGTH:
        raise Unauthorized("Wrong email or password.", code="invalid_credentials")
    with transaction(deps.pool) as conn:
        user = users_db.user_by_email(conn, email.strip())
    if user is not None and user["locked_until"] and user["locked_until"] > datetime.now(UTC):
        log.warning("sign-in refused: account locked", extra={"user_id": user["id"]})
        seconds = int((user["locked_until"] - datetime.now(UTC)).total_seconds()) + 1
        raise RateLimited("Too many failed sign-ins: this account is locked for a while.",
                          code="account_locked", details={"retry_after_seconds": seconds})
    # hashing runs outside any transaction: it takes ~50 ms and needs no row lock
    ok = passwords.verify_password(user["password_hash"] if user else None, password)
    if user is None:
        raise Unauthorized("Wrong email or password.", code="invalid_credentials")
    with transaction(deps.pool) as conn:
        if not ok:
            failed = users_db.record_failed_signin(conn, user["id"], FREE_ATTEMPTS, FIRST_LOCK_SECONDS, MAX_LOCK_SECONDS)
            log.warning("sign-in failed", extra={"user_id": user["id"], "failed_signins": failed["failed_signins"]})
        elif users_db.is_locked(conn, user["id"]):
            ok = False  # a parallel guess locked it meanwhile: this success does not count
        else:
            rehash = passwords.hash_password(password) if passwords.needs_rehash(user["password_hash"] or "") else None
            users_db.record_successful_signin(conn, user["id"], rehash)
            log.info("signed in", extra={"user_id": user["id"]})
            return _start_session(conn, user["id"])
    raise Unauthorized("Wrong email or password.", code="invalid_credentials")


def session_user(deps: Deps, token: str | None) -> SignedIn | None:
    if not token:
        return None
    with transaction(deps.pool) as conn:
        row = users_db.live_session(conn, digest(token))
    if row is None:
        return None
    return SignedIn(row["user_id"], row["workspace_id"], row["workspace_name"], row["email"], row["is_admin"],
                    row["csrf_token"])


def sign_out(deps: Deps, token: str) -> None:
    """End the session (and sweep expired ones on the way)."""
    with transaction(deps.pool) as conn:
        users_db.delete_session(conn, digest(token))
