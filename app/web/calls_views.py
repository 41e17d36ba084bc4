"""The calls list, a call's page, and its actions: annotating (tag, label) and re-analysing."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import g, redirect, render_template, request, url_for

from app.api.request import deps
from app.catalogue import STANDARD_KEYS
from app.errors import Conflict, ValidationFailed
from app.service import dashboard
from app.service.reanalysis import METRIC_VERSIONS
from app.web import forms
from app.web.blueprint import bp
from app.web.present import METRIC_DOCS, METRIC_NAMES, METRIC_THRESHOLDS
from app.web.session import current_user, signed_in
from app.web.timeline import MIN_LABEL_PX, build_timeline

MAX_TAG = 255
log = logging.getLogger(__name__)


@bp.get("/")
@signed_in
def calls():
    query = forms.parse_list(request.args)
    page = dashboard.list_calls(deps(), current_user().workspace_id, query.filters, query.sort,
                                query.descending, query.page, query.per_page)
    return render_template("calls.html", query=query, page=page, standard_keys=STANDARD_KEYS,
                           metric_names=METRIC_NAMES, args=request.args)


@bp.get("/calls/<int:call_id>")
@signed_in
def call(call_id: int):
    view = dashboard.call_page(deps(), current_user().workspace_id, call_id)
    if view["recording_url"]:
        # the recording may live on another origin (a presigned S3 URL): the CSP lets media come from there
        parts = urlsplit(view["recording_url"])
        g.media_origin = f"{parts.scheme}://{parts.netloc}"
    results = {r["metric_key"]: r for r in view["results"]}
    return render_template("call.html", call=view, results=results, timeline=build_timeline(view), min_label_px=MIN_LABEL_PX,
                           metric_names=METRIC_NAMES, metric_docs=METRIC_DOCS, metric_thresholds=METRIC_THRESHOLDS,
                           saved=request.args.get("saved"), reanalysis=request.args.get("reanalysis"))


@bp.post("/calls/<int:call_id>/annotations")
@signed_in
def annotate(call_id: int):
    """Tag and label, through the API's own use case (PATCH /calls/{id}); empty clears."""
    changes = {name: (request.form.get(name, "").strip() or None) for name in ("tag", "label")}
    if any(v and len(v) > MAX_TAG for v in changes.values()):
        raise ValidationFailed(f"A tag or label is at most {MAX_TAG} characters.")
    dashboard.annotate_call(deps(), current_user().workspace_id, call_id, changes)
    return redirect(url_for("dashboard.call", call_id=call_id, saved=1))


@bp.post("/calls/<int:call_id>/reanalysis")
@signed_in
def reanalyze(call_id: int):
    """Analyse the call again, through the API's own use case (POST /calls/{id}/reanalyze), open
    to every member of the workspace (docs/dashboard.md#re-analysis). Either way back to the call
    page with a notice: started, or refused because the call is still being analysed (409)."""
    versions = request.form.get("metric_versions", "current")
    if versions not in METRIC_VERSIONS:
        raise ValidationFailed("Custom metrics are judged by their current or their original version.")
    user = current_user()
    try:
        dashboard.reanalyze_call(deps(), user.workspace_id, call_id, versions)
    except Conflict as exc:
        if exc.code != "analysis_in_progress":
            raise
        return redirect(url_for("dashboard.call", call_id=call_id, reanalysis="busy"), code=303)
    log.info("re-analysis from the dashboard", extra={"call_id": call_id, "user_id": user.user_id,
                                                       "metric_versions": versions})
    return redirect(url_for("dashboard.call", call_id=call_id, reanalysis="started"), code=303)
