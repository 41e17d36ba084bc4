"""Outbound webhooks: endpoints a workspace registers, their delivery log, redelivery and secret
rotation (docs/webhooks.md). Delivering is the workers' (workers/webhooks.py)."""
from __future__ import annotations

import base64
import secrets

from app.db import outbox as outbox_db
from app.db import webhooks as webhooks_db
from app.db.pool import transaction
from app.errors import NotFound
from app.queue import DELIVER_WEBHOOK_TASK
from app.secretbox import SecretBox, hint
from app.service.deps import Deps

_SEALED = ("secret", "previous_secret")


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def public_view(row: dict, secret: str | None = None) -> dict:
    shown = {k: v for k, v in row.items() if k not in _SEALED}
    return {**shown, "secret": secret} if secret else shown


def create_endpoint(deps: Deps, workspace_id: int, values: dict) -> dict:
    """The answer is the only one that shows the secret."""
    secret = new_secret()
    sealed = SecretBox.from_settings(deps.settings).seal(secret)
    with transaction(deps.pool) as conn:
        row = webhooks_db.insert_endpoint(conn, workspace_id, {**values, "secret": sealed, "secret_hint": hint(secret)})
    return public_view(row, secret)


def _owned(conn, workspace_id: int, endpoint_id: int, for_update: bool = False) -> dict:
    row = webhooks_db.get_endpoint(conn, workspace_id, endpoint_id, for_update)
    if row is None:
        raise NotFound("No such webhook.")
    return row


def get_endpoint(deps: Deps, workspace_id: int, endpoint_id: int) -> dict:
    with transaction(deps.pool) as conn:
        return public_view(_owned(conn, workspace_id, endpoint_id))


def list_endpoints(deps: Deps, workspace_id: int, page: int, per_page: int) -> dict:
    with transaction(deps.pool) as conn:
        rows, total = webhooks_db.list_endpoints(conn, workspace_id, per_page, (page - 1) * per_page)
    return {"items": [public_view(r) for r in rows], "page": page, "per_page": per_page, "total": total}


def update_endpoint(deps: Deps, workspace_id: int, endpoint_id: int, values: dict) -> dict:
    with transaction(deps.pool) as conn:
        _owned(conn, workspace_id, endpoint_id, for_update=True)
        return public_view(webhooks_db.update_endpoint(conn, endpoint_id, values))


def delete_endpoint(deps: Deps, workspace_id: int, endpoint_id: int) -> None:
    with transaction(deps.pool) as conn:
        if not webhooks_db.delete_endpoint(conn, workspace_id, endpoint_id):
            raise NotFound("No such webhook.")


def rotate_secret(deps: Deps, workspace_id: int, endpoint_id: int) -> dict:
    """A new secret, shown once; the old one keeps signing (both signatures are sent) for
    CALLSCOPE_WEBHOOK_ROTATION_GRACE_SECONDS, time for the receiver to switch."""
    secret = new_secret()
    sealed = SecretBox.from_settings(deps.settings).seal(secret)
    with transaction(deps.pool) as conn:
        _owned(conn, workspace_id, endpoint_id, for_update=True)
        row = webhooks_db.rotate_secret(conn, endpoint_id, sealed, hint(secret),
                                        deps.settings.webhook_rotation_grace_seconds)
    return public_view(row, secret)


def list_deliveries(deps: Deps, workspace_id: int, endpoint_id: int, page: int, per_page: int) -> dict:
    with transaction(deps.pool) as conn:
        _owned(conn, workspace_id, endpoint_id)
        rows, total = webhooks_db.list_deliveries(conn, endpoint_id, per_page, (page - 1) * per_page)
    return {"items": rows, "page": page, "per_page": per_page, "total": total}


def redeliver(deps: Deps, workspace_id: int, endpoint_id: int, delivery_id: int) -> dict:
    """One more attempt now, with the same webhook-id, whatever the delivery's state (a failed
    delivery stays failed if it fails again; a pending one keeps its schedule)."""
    with transaction(deps.pool) as conn:
        _owned(conn, workspace_id, endpoint_id)
        row = webhooks_db.request_redelivery(conn, endpoint_id, delivery_id)
        if row is None:
            raise NotFound("No such delivery.")
        outbox_db.add_task(conn, DELIVER_WEBHOOK_TASK, row["id"])  # committed with the request
    deps.tasks_committed()
    return {**row, "attempt_log": []}
