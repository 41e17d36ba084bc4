"""Agents: the voice/chat AIs a workspace evaluates, and their analysis settings."""
from __future__ import annotations

from app.criteria import criteria_errors
from app.db import agents as agents_db
from app.db import metrics as metrics_db
from app.db.pool import one, transaction
from app.errors import NotFound, ValidationFailed
from app.service.deps import Deps


def _check_references(conn, workspace_id: int, values: dict) -> None:
    """enabled_metric_ids must be live custom metrics of the workspace; standard criteria must
    compare numbers (gte/lt/between…) or booleans (equals/in)."""
    errors = {}
    unknown = metrics_db.missing_metric_ids(conn, workspace_id, values.get("enabled_metric_ids") or [])
    if unknown:
        errors["enabled_metric_ids"] = [f"Unknown metric id(s): {unknown}."]
    for i, item in enumerate(values.get("standard_criteria") or []):
        if criteria_errors(item["criteria"], "numeric") and criteria_errors(item["criteria"], "boolean"):
            errors[f"standard_criteria.{i}.criteria"] = criteria_errors(item["criteria"], "numeric")
    if errors:
        raise ValidationFailed(details=errors)


def create_agent(deps: Deps, workspace_id: int, values: dict) -> dict:
    with transaction(deps.pool) as conn:
        _check_references(conn, workspace_id, values)
        return agents_db.insert_agent(conn, workspace_id, values)


def get_agent(deps: Deps, workspace_id: int, agent_id: int) -> dict:
    with transaction(deps.pool) as conn:
        agent = agents_db.get_agent(conn, workspace_id, agent_id)
    if agent is None:
        raise NotFound("No such agent.")
    return agent


def list_agents(deps: Deps, workspace_id: int, page: int, per_page: int) -> dict:
    with transaction(deps.pool) as conn:
        rows, total = agents_db.list_agents(conn, workspace_id, per_page, (page - 1) * per_page)
    return {"items": rows, "page": page, "per_page": per_page, "total": total}


def update_agent(deps: Deps, workspace_id: int, agent_id: int, values: dict) -> dict:
    """Partial update; `analysis_settings` merges key by key (null removes a key → default)."""
    with transaction(deps.pool) as conn:
        current = agents_db.get_agent(conn, workspace_id, agent_id, for_update=True)
        if current is None:
            raise NotFound("No such agent.")
        _check_references(conn, workspace_id, values)
        if "analysis_settings" in values:
            merged = {**current["analysis_settings"], **values["analysis_settings"]}
            values = {**values, "analysis_settings": {k: v for k, v in merged.items() if v is not None}}
        return one(agents_db.update_agent(conn, workspace_id, agent_id, values))


def delete_agent(deps: Deps, workspace_id: int, agent_id: int) -> None:
    """Soft delete: new calls can no longer name it; past calls still show it."""
    with transaction(deps.pool) as conn:
        if not agents_db.soft_delete_agent(conn, workspace_id, agent_id):
            raise NotFound("No such agent.")
