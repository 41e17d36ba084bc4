"""Re-analysis of finished calls: one call (POST /calls/{ref}/reanalyze), or every call of a
filter as a rate-limited job (docs/api.md#re-analysis). The earlier run stays readable."""
from __future__ import annotations

from datetime import datetime

from app.db import metrics as metrics_db
from app.db import outbox as outbox_db
from app.db import runs as runs_db
from app.db.pool import transaction
from app.errors import Conflict, NotFound, ValidationFailed
from app.queue import ANALYZE_TASK, REANALYSIS_JOB_TASK
from app.service.calls import resolve_call_id
from app.service.deps import Deps
from app.status import PENDING

# which definition a custom metric is judged by on re-analysis: its latest, or the one used before
METRIC_VERSIONS = ("current", "original")


def _options(data: dict) -> dict:
    return {"standard_metrics": data.get("standard_metrics"), "metric_ids": data.get("metric_ids"),
            "metric_versions": data.get("metric_versions", "current")}


def _check_metric_ids(conn, workspace_id: int, options: dict) -> None:
    unknown = metrics_db.missing_metric_ids(conn, workspace_id, options.get("metric_ids") or [])
    if unknown:
        raise ValidationFailed(details={"metric_ids": [f"Unknown metric id(s): {unknown}."]})


def reanalyze_call(deps: Deps, workspace_id: int, ref: str, data: dict) -> dict:
    """Raises NotFound, ValidationFailed (metric_ids), Conflict `analysis_in_progress` (409)."""
    options = _options(data)
    with transaction(deps.pool) as conn:
        _check_metric_ids(conn, workspace_id, options)
        call_id = resolve_call_id(conn, workspace_id, ref)
        outcome = runs_db.reset_for_reanalysis(conn, workspace_id, call_id, options)
        if outcome == "in_progress":
            raise Conflict("The call is still being analysed; re-analyse it once it is final.",
                           code="analysis_in_progress", details={"id": call_id})
        runs = runs_db.earlier_runs(conn, call_id)
        outbox_db.add_task(conn, ANALYZE_TASK, call_id)  # committed with the reset
    deps.tasks_committed()
    return {"id": call_id, "analysis_status": PENDING, "analysis_run": runs[0]["run"] + 1}


def earlier_runs(deps: Deps, workspace_id: int, ref: str) -> dict:
    with transaction(deps.pool) as conn:
        call_id = resolve_call_id(conn, workspace_id, ref)
        return {"items": runs_db.earlier_runs(conn, call_id)}


def start_job(deps: Deps, workspace_id: int, data: dict) -> dict:
    """A job over the workspace's finished calls that match `filter` now (ids up to the newest)."""
    options = _options(data)
    filters = {("from" if k == "from_" else k): (v.isoformat() if isinstance(v, datetime) else v)
               for k, v in (data.get("filter") or {}).items()}
    with transaction(deps.pool) as conn:
        _check_metric_ids(conn, workspace_id, options)
        job = runs_db.insert_job(conn, workspace_id, filters, options)
        if job["status"] == "running":
            outbox_db.add_task(conn, REANALYSIS_JOB_TASK, job["id"])
    deps.tasks_committed()
    return job


def get_job(deps: Deps, workspace_id: int, job_id: int) -> dict:
    with transaction(deps.pool) as conn:
        job = runs_db.get_job(conn, workspace_id, job_id)
    if job is None:
        raise NotFound("No such re-analysis job.")
    return job
