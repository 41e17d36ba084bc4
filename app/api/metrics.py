"""/metrics/standard: the built-in catalogue."""
from __future__ import annotations

from flask import Blueprint

from app.api.request import authenticated
from app.api.schemas import StandardMetricSchema
from app.catalogue import STANDARD_METRICS

bp = Blueprint("metrics", __name__)
_many = StandardMetricSchema(many=True)


@bp.get("/metrics/standard")
@authenticated
def standard_metrics(workspace_id: int):
    return {"items": _many.dump(STANDARD_METRICS)}
