"""Custom metric definitions (docs/metrics.md#custom-metrics): create, read, list, update (a new version), delete.

Decisions where the spec is silent:
- a PATCH is merged over the current definition and the whole result is validated again; a
  PATCH that changes nothing creates no version;
- names are unique (case-insensitive) among a workspace's live metrics: code judges read LLM
  results by name (409 `metric_name_conflict`);
- deleting is soft: results computed with any version stay readable, new calls no longer run it.
"""
from __future__ import annotations

from app.codecheck import check_code
from app.criteria import criteria_errors
from app.db import metrics as metrics_db
from app.db.pool import one, transaction
from app.errors import Conflict, NotFound, ValidationFailed
from app.service.deps import Deps


def definition_errors(definition: dict) -> dict[str, list[str]]:
    """The cross-field rules of a definition: {field: [messages]} (empty: valid)."""
    errors: dict[str, list[str]] = {}
    kind, result_type = definition["kind"], definition["result_type"]
    needed, unwanted = ("prompt", "code") if kind == "llm" else ("code", "prompt")
    if not definition.get(needed):
        errors[needed] = [f"Required for {kind} metrics."]
    if definition.get(unwanted):
        errors[unwanted] = [f"Not used by {kind} metrics; leave it out (or null)."]
    enum_values = definition.get("enum_values")
    if result_type == "enum":
        if not enum_values:
            errors["enum_values"] = ["Required for enum metrics (2 to 50 values)."]
        elif len(set(enum_values)) != len(enum_values):
            errors["enum_values"] = ["Values must be unique."]
    elif enum_values:
        errors["enum_values"] = ["Only enum metrics take enum_values."]
    if definition.get("pass_criteria") is not None and "enum_values" not in errors:
        problems = criteria_errors(definition["pass_criteria"], result_type, enum_values)
        if problems:
            errors["pass_criteria"] = problems
    if kind == "code" and definition.get("redact"):
        errors["redact"] = ["Redaction masks the transcript an LLM judge reads; code metrics run here."]
    if kind == "code" and definition.get("code"):
        found = check_code(definition["code"])
        if found:
            errors["code"] = [str(p) for p in found]
    return errors


def _validated(definition: dict) -> dict:
    errors = definition_errors(definition)
    if errors:
        raise ValidationFailed(details=errors)
    return definition


def _name_taken(name: str) -> Conflict:
    return Conflict("A live metric of the workspace already has this name.", details={"name": name},
                    code="metric_name_conflict")


def create_metric(deps: Deps, workspace_id: int, values: dict) -> dict:
    definition = {f: values.get(f) for f in metrics_db.DEFINITION_FIELDS}
    definition["redact"] = bool(definition["redact"])  # optional: off unless asked for
    definition = _validated(definition)
    with transaction(deps.pool) as conn:
        metric_id = metrics_db.insert_metric(conn, workspace_id, definition)
        if metric_id is None:
            raise _name_taken(definition["name"])
        return one(metrics_db.get_metric(conn, workspace_id, metric_id))


def get_metric(deps: Deps, workspace_id: int, metric_id: int) -> dict:
    with transaction(deps.pool) as conn:
        metric = metrics_db.get_metric(conn, workspace_id, metric_id)
    if metric is None:
        raise NotFound("No such metric.")
    return metric


def list_metrics(deps: Deps, workspace_id: int, page: int, per_page: int) -> dict:
    with transaction(deps.pool) as conn:
        rows, total = metrics_db.list_metrics(conn, workspace_id, per_page, (page - 1) * per_page)
    return {"items": rows, "page": page, "per_page": per_page, "total": total}


def list_versions(deps: Deps, workspace_id: int, metric_id: int) -> dict:
    with transaction(deps.pool) as conn:
        versions = metrics_db.list_versions(conn, workspace_id, metric_id)
    if not versions:
        raise NotFound("No such metric.")
    return {"items": versions}


def update_metric(deps: Deps, workspace_id: int, metric_id: int, changes: dict) -> dict:
    """Merge `changes` over the current definition; a real change becomes version n + 1."""
    with transaction(deps.pool) as conn:
        current = metrics_db.get_metric(conn, workspace_id, metric_id, for_update=True)
        if current is None:
            raise NotFound("No such metric.")
        before = {f: current[f] for f in metrics_db.DEFINITION_FIELDS}
        definition = _validated({**before, **changes})
        if definition == before:
            return current
        if not metrics_db.add_version(conn, metric_id, current["version"] + 1, definition):
            raise _name_taken(definition["name"])
        return one(metrics_db.get_metric(conn, workspace_id, metric_id))


def delete_metric(deps: Deps, workspace_id: int, metric_id: int) -> None:
    with transaction(deps.pool) as conn:
        if not metrics_db.soft_delete_metric(conn, workspace_id, metric_id):
            raise NotFound("No such metric.")
