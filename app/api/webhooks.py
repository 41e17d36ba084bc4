"""/webhooks: endpoints that receive our events, their delivery log, redelivery, secret rotation."""
from __future__ import annotations

from flask import Blueprint

from app.api.hook_schemas import (
    DeliverySchema,
    PageOfDeliveriesSchema,
    PageOfWebhooksSchema,
    WebhookCreateSchema,
    WebhookPatchSchema,
    WebhookSchema,
)
from app.api.request import authenticated, deps, json_body, load, load_query
from app.api.schemas import PageSchema
from app.paths import API_PREFIX
from app.service import webhooks as service

bp = Blueprint("webhooks", __name__)
_create, _patch, _one, _page, _query = (WebhookCreateSchema(), WebhookPatchSchema(), WebhookSchema(),
                                        PageOfWebhooksSchema(), PageSchema())
_delivery, _deliveries = DeliverySchema(), PageOfDeliveriesSchema()


@bp.post("/webhooks")
@authenticated
def create_webhook(workspace_id: int):
    endpoint = service.create_endpoint(deps(), workspace_id, load(_create, json_body()))
    return _one.dump(endpoint), 201, {"Location": f"{API_PREFIX}/webhooks/{endpoint['id']}"}


@bp.get("/webhooks")
@authenticated
def list_webhooks(workspace_id: int):
    query = load_query(_query)
    return _page.dump(service.list_endpoints(deps(), workspace_id, query["page"], query["per_page"]))


@bp.get("/webhooks/<int:webhook_id>")
@authenticated
def get_webhook(workspace_id: int, webhook_id: int):
    return _one.dump(service.get_endpoint(deps(), workspace_id, webhook_id))


@bp.patch("/webhooks/<int:webhook_id>")
@authenticated
def update_webhook(workspace_id: int, webhook_id: int):
    return _one.dump(service.update_endpoint(deps(), workspace_id, webhook_id, load(_patch, json_body())))


@bp.delete("/webhooks/<int:webhook_id>")
@authenticated
def delete_webhook(workspace_id: int, webhook_id: int):
    service.delete_endpoint(deps(), workspace_id, webhook_id)
    return "", 204


@bp.post("/webhooks/<int:webhook_id>/rotate-secret")
@authenticated
def rotate_webhook_secret(workspace_id: int, webhook_id: int):
    return _one.dump(service.rotate_secret(deps(), workspace_id, webhook_id))


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@authenticated
def list_deliveries(workspace_id: int, webhook_id: int):
    query = load_query(_query)
    return _deliveries.dump(service.list_deliveries(deps(), workspace_id, webhook_id, query["page"], query["per_page"]))


@bp.post("/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
@authenticated
def redeliver(workspace_id: int, webhook_id: int, delivery_id: int):
    return _delivery.dump(service.redeliver(deps(), workspace_id, webhook_id, delivery_id)), 202
