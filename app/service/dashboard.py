"""The dashboard's use cases: the calls list, one call with everything needed to draw it, an
agent's trends. Reads only; changes go through the same use cases as the API
(app/service/calls.py, app/service/reanalysis.py)."""
from __future__ import annotations

from datetime import datetime

from app.catalogue import thresholds_for
from app.db import calls as calls_db
from app.db import dashboard as dashboard_db
from app.db.pool import transaction
from app.errors import NotFound
from app.service import reanalysis
from app.service.calls import get_call, update_call
from app.service.deps import Deps

RUNS_SHOWN = 10  # the call page lists the newest earlier runs; GET /calls/{ref}/runs has them all

SORT_KEYS = tuple(dashboard_db.SORTS)


def list_calls(deps: Deps, workspace_id: int, filters: dict, sort: str, descending: bool,
               page: int, per_page: int) -> dict:
    """A page of calls with headline numbers, and the choices the filter form offers."""
    filters = dict(filters)
    if filters.get("q"):
        filters["q"] = dashboard_db.like_pattern(filters["q"])
    with transaction(deps.pool) as conn:
        rows, total = dashboard_db.list_calls(conn, workspace_id, filters, sort, descending,
                                              per_page, (page - 1) * per_page)
        agents = dashboard_db.agent_choices(conn, workspace_id)
        custom = dashboard_db.custom_metric_choices(conn, workspace_id)
    return {"items": rows, "total": total, "page": page, "per_page": per_page,
            "agents": agents, "custom_metrics": custom}


def call_page(deps: Deps, workspace_id: int, call_id: int) -> dict:
    """The API's full view of the call (app/service/calls.py#get_call: results, history, signed
    recording link) plus its agent's effective thresholds and pass criteria. NotFound for a
    call of another workspace."""
    call = get_call(deps, workspace_id, str(call_id))
    if call["id"] != call_id:
        raise NotFound("No such call.")  # a digit string that happens to be another call's identifier
    with transaction(deps.pool) as conn:
        agent = dashboard_db.agent_of_workspace(conn, workspace_id, call["agent_id"])
    if agent is None:
        raise NotFound("No such call.")
    criteria: dict[str, list[dict]] = {}
    for item in agent["standard_criteria"] or []:  # "metric" is "<metric_key>.<field path>"
        criteria.setdefault(item["metric"].split(".")[0], []).append(item)
    runs = reanalysis.earlier_runs(deps, workspace_id, str(call_id))["items"]
    return {**call, "agent": agent, "thresholds": thresholds_for(agent["analysis_settings"]), "criteria": criteria,
            "earlier_runs": [_run_summary(r) for r in runs[:RUNS_SHOWN]], "earlier_runs_total": len(runs)}


def _run_summary(run: dict) -> dict:
    """An earlier run as the call page lists it: its outcome and how many checks failed."""
    verdicts = [r.get("passed") for r in (run["results"] or []) + (run["custom_results"] or [])]
    return {key: run[key] for key in ("run", "analysis_status", "call_success", "failure_code", "finished_at",
                                      "replaced_at")} | {
        "failed": sum(v is False for v in verdicts), "judged": sum(v is not None for v in verdicts)}


def _own_call_ref(deps: Deps, workspace_id: int, call_id: int) -> str:
    """The API use cases take a ref (id or call_identifier): make sure the dashboard's internal
    id is one of this workspace's calls, so it is never read as another call's digit identifier."""
    with transaction(deps.pool) as conn:
        if calls_db.get_call(conn, workspace_id, call_id) is None:
            raise NotFound("No such call.")
    return str(call_id)


def annotate_call(deps: Deps, workspace_id: int, call_id: int, changes: dict) -> dict:
    """Tag/label a call by its internal id, through PATCH /calls/{id}'s use case."""
    return update_call(deps, workspace_id, _own_call_ref(deps, workspace_id, call_id), changes)


def reanalyze_call(deps: Deps, workspace_id: int, call_id: int, metric_versions: str) -> dict:
    """Analyse the whole call again, through POST /calls/{id}/reanalyze's use case
    (docs/dashboard.md#re-analysis). Raises Conflict `analysis_in_progress` while it is pending."""
    return reanalysis.reanalyze_call(deps, workspace_id, _own_call_ref(deps, workspace_id, call_id),
                                     {"metric_versions": metric_versions})


def agent_trends(deps: Deps, workspace_id: int, agent_id: int, period: tuple[datetime, datetime],
                 compare: tuple[datetime, datetime] | None) -> dict:
    """Daily series over `period` and its totals, the totals of `compare` when given, and each
    custom metric's daily pass rates. NotFound for an agent of another workspace."""
    with transaction(deps.pool) as conn:
        agent = dashboard_db.agent_of_workspace(conn, workspace_id, agent_id)
        if agent is None:
            raise NotFound("No such agent.")
        daily = dashboard_db.agent_daily(conn, workspace_id, agent_id, *period)
        custom = dashboard_db.agent_custom_pass_rates(conn, workspace_id, agent_id, *period)
        before = dashboard_db.agent_daily(conn, workspace_id, agent_id, *compare) if compare else None
        custom_before = dashboard_db.agent_custom_pass_rates(conn, workspace_id, agent_id, *compare) if compare else []
    return {
        "agent": agent,
        "days": [r for r in daily if r["day"] is not None],
        "totals": _total_row(daily),
        "compare_totals": _total_row(before) if before is not None else None,
        "custom": custom,
        "custom_compare": {r["metric_id"]: r for r in custom_before if r["day"] is None},
    }


def _total_row(rows: list[dict]) -> dict:
    return next((r for r in rows if r["day"] is None), {})


def agents_overview(deps: Deps, workspace_id: int) -> list[dict]:
    with transaction(deps.pool) as conn:
        return dashboard_db.agent_choices(conn, workspace_id)
