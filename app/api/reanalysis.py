"""Re-analysis: one call again, its earlier runs, and bulk jobs over a filter."""
from __future__ import annotations

from flask import Blueprint, request

from app.api.hook_schemas import (
    EarlierRunsSchema,
    ReanalysisJobCreateSchema,
    ReanalysisJobSchema,
    ReanalyzeAcceptedSchema,
    ReanalyzeSchema,
)
from app.api.present import call_link
from app.api.request import authenticated, deps, json_body, load
from app.paths import API_PREFIX
from app.service import reanalysis as service

bp = Blueprint("reanalysis", __name__)
_one, _accepted, _runs = ReanalyzeSchema(), ReanalyzeAcceptedSchema(), EarlierRunsSchema()
_job_create, _job = ReanalysisJobCreateSchema(), ReanalysisJobSchema()


@bp.post("/calls/<ref>/reanalyze")
@authenticated
def reanalyze_call(workspace_id: int, ref: str):
    body = json_body() if request.content_length else {}  # no body: everything, current versions
    accepted = service.reanalyze_call(deps(), workspace_id, ref, load(_one, body))
    return _accepted.dump(accepted), 202, {"Location": call_link(accepted["id"])}


@bp.get("/calls/<ref>/runs")
@authenticated
def earlier_runs(workspace_id: int, ref: str):
    return _runs.dump(service.earlier_runs(deps(), workspace_id, ref))


@bp.post("/reanalysis-jobs")
@authenticated
def start_job(workspace_id: int):
    job = service.start_job(deps(), workspace_id, load(_job_create, json_body()))
    return _job.dump(job), 202, {"Location": f"{API_PREFIX}/reanalysis-jobs/{job['id']}"}


@bp.get("/reanalysis-jobs/<int:job_id>")
@authenticated
def get_job(workspace_id: int, job_id: int):
    return _job.dump(service.get_job(deps(), workspace_id, job_id))
