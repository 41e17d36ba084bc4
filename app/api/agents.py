"""/agents: create, read, list, update, delete."""
from __future__ import annotations

from flask import Blueprint

from app.api.request import authenticated, deps, json_body, load, load_query
from app.api.responses import AgentSchema, PageOfAgentsSchema
from app.api.schemas import AgentCreateSchema, AgentPatchSchema, PageSchema
from app.paths import API_PREFIX
from app.service import agents as service

bp = Blueprint("agents", __name__)
_create, _patch, _agent, _page, _query = (AgentCreateSchema(), AgentPatchSchema(), AgentSchema(),
                                          PageOfAgentsSchema(), PageSchema())


@bp.post("/agents")
@authenticated
def create_agent(workspace_id: int):
    agent = service.create_agent(deps(), workspace_id, load(_create, json_body()))
    return _agent.dump(agent), 201, {"Location": f"{API_PREFIX}/agents/{agent['id']}"}


@bp.get("/agents")
@authenticated
def list_agents(workspace_id: int):
    query = load_query(_query)
    return _page.dump(service.list_agents(deps(), workspace_id, query["page"], query["per_page"]))


@bp.get("/agents/<int:agent_id>")
@authenticated
def get_agent(workspace_id: int, agent_id: int):
    return _agent.dump(service.get_agent(deps(), workspace_id, agent_id))


@bp.patch("/agents/<int:agent_id>")
@authenticated
def update_agent(workspace_id: int, agent_id: int):
    return _agent.dump(service.update_agent(deps(), workspace_id, agent_id, load(_patch, json_body())))


@bp.delete("/agents/<int:agent_id>")
@authenticated
def delete_agent(workspace_id: int, agent_id: int):
    service.delete_agent(deps(), workspace_id, agent_id)
    return "", 204
