"""/integrations: a workspace's voice platforms (CRUD), and each one's events endpoint."""
from __future__ import annotations

from flask import Blueprint, request

from app.api.hook_schemas import (
    EventAnswerSchema,
    IntegrationCreateSchema,
    IntegrationPatchSchema,
    IntegrationSchema,
    PageOfIntegrationsSchema,
)
from app.api.request import authenticated, deps, json_body, load, load_query
from app.api.schemas import PageSchema
from app.paths import API_PREFIX
from app.service import inbound
from app.service import integrations as service

bp = Blueprint("integrations", __name__)
_create, _patch, _one, _page, _query, _answer = (IntegrationCreateSchema(), IntegrationPatchSchema(), IntegrationSchema(),
                                                 PageOfIntegrationsSchema(), PageSchema(), EventAnswerSchema())


@bp.post("/integrations")
@authenticated
def create_integration(workspace_id: int):
    integration = service.create_integration(deps(), workspace_id, load(_create, json_body()))
    return _one.dump(integration), 201, {"Location": f"{API_PREFIX}/integrations/{integration['id']}"}


@bp.get("/integrations")
@authenticated
def list_integrations(workspace_id: int):
    query = load_query(_query)
    return _page.dump(service.list_integrations(deps(), workspace_id, query["page"], query["per_page"]))


@bp.get("/integrations/<int:integration_id>")
@authenticated
def get_integration(workspace_id: int, integration_id: int):
    return _one.dump(service.get_integration(deps(), workspace_id, integration_id))


@bp.patch("/integrations/<int:integration_id>")
@authenticated
def update_integration(workspace_id: int, integration_id: int):
    changes = load(_patch, json_body())
    return _one.dump(service.update_integration(deps(), workspace_id, integration_id, changes))


@bp.delete("/integrations/<int:integration_id>")
@authenticated
def delete_integration(workspace_id: int, integration_id: int):
    service.delete_integration(deps(), workspace_id, integration_id)
    return "", 204


@bp.post("/integrations/<int:integration_id>/events")
def receive_event(integration_id: int):
    """No bearer token: the platform's signature is the credential (checked on the raw body)."""
    request.max_content_length = deps().settings.max_event_body_bytes
    answer = inbound.receive_event(deps(), integration_id, dict(request.headers), request.get_data(cache=False))
    return _answer.dump(answer), 200
