"""/calls: submit, poll, list, annotate, erase."""
from __future__ import annotations

from flask import Blueprint

from app.api import present
from app.api.request import authenticated, deps, json_body, load, load_query
from app.api.responses import CallAcceptedSchema, CallDetailSchema, PageOfCallsSchema
from app.api.schemas import CallCreateSchema, CallListQuerySchema, CallPatchSchema
from app.service import calls as service
from app.service import erasure

bp = Blueprint("calls", __name__)
_create, _patch, _query = CallCreateSchema(), CallPatchSchema(), CallListQuerySchema()
_accepted, _detail, _page = CallAcceptedSchema(), CallDetailSchema(), PageOfCallsSchema()


@bp.post("/calls")
@authenticated
def submit_call(workspace_id: int):
    call = service.submit_call(deps(), workspace_id, load(_create, json_body()))
    body = present.accepted(call)
    return _accepted.dump(body), 202, {"Location": body["links"]["self"]}


@bp.get("/calls/<ref>")
@authenticated
def get_call(workspace_id: int, ref: str):
    return _detail.dump(present.call_detail(service.get_call(deps(), workspace_id, ref)))


@bp.get("/calls")
@authenticated
def list_calls(workspace_id: int):
    query = load_query(_query)
    page, per_page = query.pop("page"), query.pop("per_page")
    filters = {("from" if k == "from_" else k): v for k, v in query.items()}
    result = service.list_calls(deps(), workspace_id, filters, page, per_page)
    return _page.dump({**result, "items": [present.call_summary(r) for r in result["items"]]})


@bp.delete("/calls/<ref>")
@authenticated
def delete_call(workspace_id: int, ref: str):
    erasure.erase_call(deps().pool, deps().storage, workspace_id, ref)
    return "", 204


@bp.patch("/calls/<ref>")
@authenticated
def update_call(workspace_id: int, ref: str):
    call = service.update_call(deps(), workspace_id, ref, load(_patch, json_body()))
    return _accepted.dump(present.accepted(call))
