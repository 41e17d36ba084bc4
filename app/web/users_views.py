"""Workspace users, for admins: who has access, and inviting someone new."""
from __future__ import annotations

from flask import render_template, request

from app.api.request import deps
from app.errors import Conflict, ValidationFailed
from app.paths import DASHBOARD_PREFIX
from app.service import users
from app.web.blueprint import bp
from app.web.session import current_user, signed_in


@bp.route("/users", methods=["GET", "POST"])
@signed_in
def workspace_users():
    admin = current_user()
    invite_url, problem = None, None
    if request.method == "POST":
        try:
            token = users.invite_user(deps(), admin, request.form.get("email", ""), request.form.get("is_admin") == "on")
            invite_url = f"{deps().settings.public_base_url}{DASHBOARD_PREFIX}/invite/{token}"
        except (Conflict, ValidationFailed) as exc:
            problem = exc.message
    members = users.workspace_users(deps(), admin)
    status = 422 if problem else 200
    return render_template("users.html", members=members, invite_url=invite_url, problem=problem,
                           email=request.form.get("email", "") if problem else ""), status
