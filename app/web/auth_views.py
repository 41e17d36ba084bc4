"""Sign-in, sign-out, and choosing a password from an invitation link."""
from __future__ import annotations

from flask import g, make_response, redirect, render_template, request, url_for

from app.api.request import deps
from app.errors import NotFound, RateLimited, Unauthorized, ValidationFailed
from app.service import users
from app.web.blueprint import bp
from app.web.session import clear_session_cookie, public, safe_next, set_session_cookie


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    if request.method == "GET":
        if g.user is not None:
            return redirect(safe_next(request.args.get("next")))
        return render_template("sign_in.html", next=request.args.get("next", ""), email="", problem=None)
    email, target = request.form.get("email", ""), request.form.get("next", "")
    try:
        token = users.sign_in(deps(), email, request.form.get("password", ""), request.remote_addr or "unknown")
    except (Unauthorized, RateLimited) as exc:
        page = make_response(render_template("sign_in.html", next=target, email=email, problem=exc.message),
                             429 if isinstance(exc, RateLimited) else 401)
        if isinstance(exc, RateLimited):
            page.headers["Retry-After"] = str(exc.details.get("retry_after_seconds", 1))
        return page
    response = redirect(safe_next(target))
    set_session_cookie(response, deps(), token)
    return response


@bp.post("/sign-out")
def sign_out():
    token = request.cookies.get("callscope_session")
    if token:
        users.sign_out(deps(), token)
    response = redirect(url_for("dashboard.sign_in"))
    clear_session_cookie(response, deps())
    return response


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept_invite(token: str):
    try:
        email = users.invited_email(deps(), token)
    except NotFound:
        return render_template("error.html", status=404, message="This link is invalid, used or expired. "
                               "Ask an admin for a new one."), 404
    problem = None
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("confirm", ""):
            problem = "The two passwords differ."
        else:
            try:
                session_token = users.accept_invite(deps(), token, password)
            except ValidationFailed as exc:
                problem = exc.message
            else:
                response = make_response(redirect(url_for("dashboard.calls")))
                set_session_cookie(response, deps(), session_token)
                return response
    return render_template("invite.html", email=email, problem=problem), 422 if problem else 200
