"""Integrations: a workspace's connection to a voice platform (docs/integrations.md).

Secrets are sealed before they reach the database and never leave the API again: responses
carry only a hint. Sending a new `signing_secret` or `api_key` in a PATCH rotates it.
"""
from __future__ import annotations

from app.db import integrations as integrations_db
from app.db.pool import transaction
from app.errors import NotFound, ValidationFailed
from app.paths import API_PREFIX
from app.secretbox import SecretBox, hint
from app.service.deps import Deps

_SECRETS = ("signing_secret", "api_key")


def events_url(deps: Deps, integration_id: int) -> str:
    """The URL a team pastes into its platform's dashboard."""
    return f"{deps.settings.public_base_url}{API_PREFIX}/integrations/{integration_id}/events"


def public_view(deps: Deps, row: dict) -> dict:
    """The integration as the API shows it: hints instead of secrets."""
    shown = {k: v for k, v in row.items() if k not in _SECRETS}
    return {**shown, "has_api_key": row["api_key"] is not None, "events_url": events_url(deps, row["id"])}


def _seal(box: SecretBox, values: dict) -> dict:
    sealed = dict(values)
    for name in _SECRETS:
        if name in values:
            secret = values[name]
            sealed[name] = box.seal(secret) if secret else None
            sealed[f"{name}_hint"] = hint(secret) if secret else None
    return sealed


def _check_agents(conn, workspace_id: int, values: dict) -> None:
    wanted = [int(v) for v in (values.get("agent_map") or {}).values()]
    if values.get("default_agent_id") is not None:
        wanted.append(values["default_agent_id"])
    unknown = sorted(set(wanted) - integrations_db.live_agent_ids(conn, workspace_id, wanted))
    if unknown:
        raise ValidationFailed(details={"agent_map": [f"Unknown agent id(s): {unknown}."]})


def create_integration(deps: Deps, workspace_id: int, values: dict) -> dict:
    box = SecretBox.from_settings(deps.settings)
    with transaction(deps.pool) as conn:
        _check_agents(conn, workspace_id, values)
        row = integrations_db.insert_integration(conn, workspace_id, _seal(box, values))
    return public_view(deps, row)


def _owned(conn, workspace_id: int, integration_id: int, for_update: bool = False) -> dict:
    row = integrations_db.get_integration(conn, workspace_id, integration_id, for_update)
    if row is None:
        raise NotFound("No such integration.")
    return row


def get_integration(deps: Deps, workspace_id: int, integration_id: int) -> dict:
    with transaction(deps.pool) as conn:
        return public_view(deps, _owned(conn, workspace_id, integration_id))


def list_integrations(deps: Deps, workspace_id: int, page: int, per_page: int) -> dict:
    with transaction(deps.pool) as conn:
        rows, total = integrations_db.list_integrations(conn, workspace_id, per_page, (page - 1) * per_page)
    return {"items": [public_view(deps, r) for r in rows], "page": page, "per_page": per_page, "total": total}


def update_integration(deps: Deps, workspace_id: int, integration_id: int, values: dict) -> dict:
    """Partial update. `agent_map` merges (a platform agent mapped to null is unmapped); a new
    secret replaces the old one at once (the platform must be changed at the same moment)."""
    box = SecretBox.from_settings(deps.settings)
    with transaction(deps.pool) as conn:
        current = _owned(conn, workspace_id, integration_id, for_update=True)
        _check_agents(conn, workspace_id, {**values, "agent_map": {
            k: v for k, v in (values.get("agent_map") or {}).items() if v is not None}})
        if "agent_map" in values:
            merged = {**current["agent_map"], **values["agent_map"]}
            values = {**values, "agent_map": {k: v for k, v in merged.items() if v is not None}}
        row = integrations_db.update_integration(conn, integration_id, _seal(box, values))
    return public_view(deps, row)


def delete_integration(deps: Deps, workspace_id: int, integration_id: int) -> None:
    with transaction(deps.pool) as conn:
        if not integrations_db.delete_integration(conn, workspace_id, integration_id):
            raise NotFound("No such integration.")
