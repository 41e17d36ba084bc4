"""/metrics/standard: the built-in catalogue."""
from __future__ import annotations

from flask import Blueprint

from app.api.request import authenticated
from app.api.schemas import StandardCatalogueSchema
from app.catalogue import STANDARD_METRICS

bp = Blueprint("metrics", __name__)
_catalogue = StandardCatalogueSchema()


@bp.get("/metrics/standard")
@authenticated
def standard_metrics(workspace_id: int):
    return _catalogue.dump({"items": STANDARD_METRICS})
