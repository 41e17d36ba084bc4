"""The admin CLI (`callscope …`). Every command takes --json for machine-readable output.

It reads the same CALLSCOPE_* settings as the services. Without `--env-file` it also loads
`.callscope-dev/env` from the current directory when that file exists — what deploy/dev.sh
writes — so it works in a second shell next to a dev instance; variables already set in the
environment win over the file. Only `tokens issue` and `secrets reseal` use the secrets, so only
they need them (docs/operations.md#the-admin-cli).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from app.errors import CallscopeError
from app.settings import Settings, SettingsError, read_env_file

DEV_ENV_FILE = os.path.join(".callscope-dev", "env")
# the commands that sign tokens with CALLSCOPE_JWT_KEYS; the others need only the database
_NEED_SECRETS = {("tokens", "issue")}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callscope", description="callscope administration")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--env-file", metavar="PATH",
                        help=f"read CALLSCOPE_* settings from this file (default: {DEV_ENV_FILE} when it exists); "
                             "the environment wins over it")
    sub = parser.add_subparsers(dest="group", required=True)

    db = sub.add_parser("db").add_subparsers(dest="command", required=True)
    db.add_parser("migrate", help="apply pending migrations")
    db_wait = db.add_parser("wait", help="wait until the database answers and every migration is applied "
                                         "(a pod's init container, docs/kubernetes.md#migrations)")
    db_wait.add_argument("--timeout", type=float, default=600, help="give up after this many seconds (exit 1)")

    ws = sub.add_parser("workspaces").add_subparsers(dest="command", required=True)
    ws_create = ws.add_parser("create", help="create a workspace (a tenant)")
    ws_create.add_argument("name")
    ws_retention = ws.add_parser("retention", help="erase a workspace's calls older than N days (beat does it)")
    ws_retention.add_argument("--workspace", type=int, required=True)
    keep = ws_retention.add_mutually_exclusive_group(required=True)
    keep.add_argument("--days", type=int, help="retention period in days (> 0)")
    keep.add_argument("--forever", action="store_true", help="keep calls until they are deleted (the default)")

    agents = sub.add_parser("agents").add_subparsers(dest="command", required=True)
    agent_create = agents.add_parser("create", help="create an agent in a workspace")
    agent_create.add_argument("--workspace", type=int, required=True)
    agent_create.add_argument("--ai-channel", choices=("left", "right", "auto"), default="left")
    agent_create.add_argument("name")

    tokens = sub.add_parser("tokens").add_subparsers(dest="command", required=True)
    issue = tokens.add_parser("issue", help="issue an API token for a workspace")
    issue.add_argument("--workspace", type=int, required=True)
    issue.add_argument("--expires-in", type=int, default=None, help="seconds until the token expires")
    revoke = tokens.add_parser("revoke", help="revoke an API key")
    revoke.add_argument("key_id")
    users = sub.add_parser("users").add_subparsers(dest="command", required=True)
    user_create = users.add_parser("create", help="create a dashboard user (prints a set-password link "
                                                 "unless --password-stdin)")
    user_create.add_argument("--workspace", type=int, required=True)
    user_create.add_argument("--admin", action="store_true", help="may invite other users from the dashboard")
    user_create.add_argument("--password-stdin", action="store_true",
                             help="read the password from the first line of standard input")
    user_create.add_argument("email")
    user_reset = users.add_parser("reset-password", help="set a new password (--password-stdin) or print a "
                                                        "set-password link; ends the user's sessions, lifts a lock-out")
    user_reset.add_argument("--password-stdin", action="store_true")
    user_reset.add_argument("email")
    user_delete = users.add_parser("delete", help="remove a dashboard user (their sessions end)")
    user_delete.add_argument("email")
    secrets = sub.add_parser("secrets").add_subparsers(dest="command", required=True)
    secrets.add_parser("reseal", help="re-seal stored secrets under the first CALLSCOPE_ENCRYPTION_KEYS key")
    # --json is accepted after the command too (`callscope tokens issue --workspace 1 --json`)
    for p in (db, ws, agents, tokens, users, secrets):
        for action in p.choices.values():
            action.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    return parser


def _run(args, settings: Settings) -> dict:
    from app.db.pool import connect
    from app.service import admin

    with connect(settings.database_url) as conn:
        match (args.group, args.command):
            case ("db", "migrate"):
                return {"applied": admin.migrate(conn)}
            case ("workspaces", "create"):
                return admin.create_workspace(conn, args.name)
            case ("workspaces", "retention"):
                return admin.set_retention(conn, args.workspace, None if args.forever else args.days)
            case ("agents", "create"):
                return admin.create_agent(conn, args.workspace, args.name, args.ai_channel)
            case ("tokens", "issue"):
                return admin.issue_token(conn, settings, args.workspace, args.expires_in)
            case ("tokens", "revoke"):
                return admin.revoke_token(conn, args.key_id)
            case ("secrets", "reseal"):
                return admin.reseal_secrets(conn, settings)
            case ("users", "create"):
                return _create_user(conn, settings, args)
            case ("users", "reset-password"):
                return _reset_password(conn, settings, args)
            case ("users", "delete"):
                from app.service import users

                return users.delete_user(conn, args.email)
    raise SystemExit(2)


def _wait_for_schema(settings: Settings, timeout: float) -> dict:
    """Poll every 2 s until the database answers with no migration pending: the release Job may
    still be running, or the database still starting."""
    from app.db.pool import connect
    from app.service import admin

    deadline = time.monotonic() + timeout
    while True:
        try:
            with connect(settings.database_url) as conn:
                pending = admin.pending_migrations(conn)
            if not pending:
                return {"pending": []}
            reason = f"migrations not applied yet: {', '.join(pending)}"
        except CallscopeError as exc:  # the database does not answer (yet)
            reason = str(exc)
        if time.monotonic() > deadline:
            raise CallscopeError(f"gave up after {timeout:g} s: {reason}", code="migrations_pending")
        time.sleep(2)


def _stdin_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


def _create_user(conn, settings: Settings, args) -> dict:
    from app.service import users

    password = _stdin_password() if args.password_stdin else None
    user = users.create_user(conn, args.workspace, args.email, password, args.admin)
    if password is None:
        user["set_password_url"] = users.invite_url(settings.public_base_url, users.cli_invite_link(conn, user["email"]))
    return user


def _reset_password(conn, settings: Settings, args) -> dict:
    from app.service import users

    if args.password_stdin:
        return users.reset_password(conn, args.email, _stdin_password())
    link = users.invite_url(settings.public_base_url, users.cli_invite_link(conn, args.email))
    return {"email": args.email, "set_password_url": link}


def _environment(env_file: str | None) -> dict[str, str]:
    """The process environment over the env file's values (the given one, else the dev one)."""
    path = env_file or (DEV_ENV_FILE if os.path.isfile(DEV_ENV_FILE) else None)
    from_file = read_env_file(path) if path else {}
    return {**from_file, **os.environ}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env(_environment(args.env_file),
                                     secrets=(args.group, args.command) in _NEED_SECRETS)
        result = _wait_for_schema(settings, args.timeout) if (args.group, args.command) == ("db", "wait") \
            else _run(args, settings)
    except (SettingsError, CallscopeError) as exc:
        code = getattr(exc, "code", "invalid_settings")
        if args.json:
            print(json.dumps({"error": {"code": code, "message": str(exc)}}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, default=str))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
