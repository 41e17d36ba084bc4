"""/metrics: custom metric definitions (docs/metrics.md#custom-metrics) and the standard catalogue."""
from __future__ import annotations

from flask import Blueprint

from app.api.request import authenticated, deps, json_body, load, load_query
from app.api.responses import MetricSchema, MetricVersionsSchema, PageOfMetricsSchema, StandardCatalogueSchema
from app.api.schemas import MetricCreateSchema, MetricPatchSchema, PageSchema
from app.catalogue import STANDARD_METRICS
from app.paths import API_PREFIX
from app.service import metrics as service

bp = Blueprint("metrics", __name__)
_catalogue, _create, _patch, _metric, _page, _query, _versions = (
    StandardCatalogueSchema(), MetricCreateSchema(), MetricPatchSchema(), MetricSchema(),
    PageOfMetricsSchema(), PageSchema(), MetricVersionsSchema())


@bp.get("/metrics/standard")
@authenticated
def standard_metrics(workspace_id: int):
    return _catalogue.dump({"items": STANDARD_METRICS})


@bp.post("/metrics")
@authenticated
def create_metric(workspace_id: int):
    metric = service.create_metric(deps(), workspace_id, load(_create, json_body()))
    return _metric.dump(metric), 201, {"Location": f"{API_PREFIX}/metrics/{metric['id']}"}


@bp.get("/metrics")
@authenticated
def list_metrics(workspace_id: int):
    query = load_query(_query)
    return _page.dump(service.list_metrics(deps(), workspace_id, query["page"], query["per_page"]))


@bp.get("/metrics/<int:metric_id>")
@authenticated
def get_metric(workspace_id: int, metric_id: int):
    return _metric.dump(service.get_metric(deps(), workspace_id, metric_id))


@bp.get("/metrics/<int:metric_id>/versions")
@authenticated
def metric_versions(workspace_id: int, metric_id: int):
    return _versions.dump(service.list_versions(deps(), workspace_id, metric_id))


@bp.patch("/metrics/<int:metric_id>")
@authenticated
def update_metric(workspace_id: int, metric_id: int):
    return _metric.dump(service.update_metric(deps(), workspace_id, metric_id, load(_patch, json_body())))


@bp.delete("/metrics/<int:metric_id>")
@authenticated
def delete_metric(workspace_id: int, metric_id: int):
    service.delete_metric(deps(), workspace_id, metric_id)
    return "", 204
