"""The dashboard (docs/dashboard.md): server-rendered pages in the same Flask app as the API,
signed in with a browser session, under a strict Content-Security-Policy. Views are thin:
parse the query → one service call → render."""
from __future__ import annotations

import logging

from flask import Flask, current_app, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Response

from app.api.errors import STATUS_BY_ERROR
from app.api.request import deps
from app.errors import CallscopeError
from app.paths import DASHBOARD_PREFIX
from app.web import agents_views, auth_views, calls_views, users_views  # noqa: F401  (they register routes)
from app.web.blueprint import bp
from app.web.present import FILTERS
from app.web.session import check_csrf, csrf_token, load_user, remember_pre_session_token

log = logging.getLogger(__name__)


def content_security_policy(media_origin: str | None) -> str:
    """No inline script or style anywhere (no 'unsafe-inline'): the pages load their one script
    and one stylesheet from the dashboard's static files. Media may also come from the
    recording's own origin (a presigned S3 link)."""
    media = "'self'" + (f" {media_origin}" if media_origin else "")
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"media-src {media}; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


@bp.before_request
def _before():
    if request.endpoint == "dashboard.static":
        return  # stylesheet and script: no session lookup
    load_user(deps())
    if request.method == "POST":
        view = current_app.view_functions.get(request.endpoint or "")
        check_csrf(public_form=bool(getattr(view, "dashboard_public", False)))


@bp.after_request
def _headers(response: Response) -> Response:
    if "user" in g:
        remember_pre_session_token(response, deps())
    response.headers["Content-Security-Policy"] = content_security_policy(g.get("media_origin"))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # invitation links carry their token in the path: never let it leave in a Referer
    response.headers["Referrer-Policy"] = "no-referrer"
    if not request.path.startswith(f"{DASHBOARD_PREFIX}/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(CallscopeError)
def _domain_error(exc: CallscopeError):
    status = next((s for cls, s in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 500)
    return render_template("error.html", status=status, message=exc.message), status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = exc.code or 500
    return render_template("error.html", status=status, message=exc.description), status


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("unhandled error in the dashboard")
    return render_template("error.html", status=500, message="Something went wrong on our side."), 500


@bp.route("/<path:anything>")
def _unknown(anything: str):
    """Any other dashboard path: an HTML 404 rather than the API's JSON one."""
    raise NotFound("There is no such page.")


def register_dashboard(app: Flask) -> None:
    for name, function in FILTERS.items():
        app.jinja_env.filters[name] = function
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(bp, url_prefix=DASHBOARD_PREFIX)
    app.add_url_rule("/", "home", lambda: redirect(url_for("dashboard.calls")))
