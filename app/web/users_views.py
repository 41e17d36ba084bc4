"""Workspace users, for admins: who has access, and inviting someone new."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for

from app.api.request import deps
from app.errors import Conflict, ValidationFailed
from app.service import users
from app.web.blueprint import bp
from app.web.session import current_user, signed_in


@bp.route("/users", methods=["GET", "POST"])
@signed_in
def workspace_users():
    admin = current_user()
    invite_url, problem, link_for = None, None, None
    if request.method == "POST":
        try:
            email = request.form.get("email", "")
            token = users.invite_user(deps(), admin, email, request.form.get("is_admin") == "on")
            invite_url, link_for = _link(token), email
        except (Conflict, ValidationFailed) as exc:
            problem = exc.message
    members = users.workspace_users(deps(), admin)
    status = 422 if problem else 200
    return render_template("users.html", members=members, invite_url=invite_url, link_for=link_for, problem=problem,
                           email=request.form.get("email", "") if problem else "",
                           removed=request.args.get("removed")), status


@bp.post("/users/<int:user_id>/link")
@signed_in
def member_link(user_id: int):
    email, token = users.member_link(deps(), current_user(), user_id)
    members = users.workspace_users(deps(), current_user())
    return render_template("users.html", members=members, invite_url=_link(token), link_for=email, problem=None,
                           email="", removed=None)


@bp.post("/users/<int:user_id>/remove")
@signed_in
def remove_member(user_id: int):
    email = users.remove_member(deps(), current_user(), user_id)
    return redirect(url_for("dashboard.workspace_users", removed=email))


def _link(token: str) -> str:
    return users.invite_url(deps().settings.public_base_url, token)
