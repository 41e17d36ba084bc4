"""Agents: the list, and one agent's trends with a comparison of two periods."""
from __future__ import annotations

from flask import render_template, request

from app.api.request import deps
from app.service import dashboard
from app.web import forms
from app.web.blueprint import bp
from app.web.session import current_user, signed_in
from app.web.trends import build_charts, comparison_rows


@bp.get("/agents")
@signed_in
def agents():
    return render_template("agents.html", agents=dashboard.agents_overview(deps(), current_user().workspace_id))


@bp.get("/agents/<int:agent_id>")
@signed_in
def agent(agent_id: int):
    periods = forms.parse_periods(request.args)
    trends = dashboard.agent_trends(deps(), current_user().workspace_id, agent_id, periods.period, periods.compare)
    return render_template("agent.html", trends=trends, periods=periods,
                           charts=build_charts(trends, periods.period),
                           comparison=comparison_rows(trends) if periods.compare else None)
