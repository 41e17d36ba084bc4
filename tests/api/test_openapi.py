"""The OpenAPI description: valid, generated from the schemas, in sync with the routes and with
the committed copy (docs/openapi.json)."""
import json
import re
from pathlib import Path

from openapi_spec_validator import validate

from app.api.openapi import OPERATIONS, PREFIX, build_spec

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
UNDOCUMENTED = {"/recordings", "/openapi.json", "/docs"}  # signed links, this document, its viewer


def test_spec_is_valid_openapi_3():
    validate(build_spec())


def test_committed_copy_is_current():
    assert json.loads(COMMITTED.read_text()) == build_spec(), \
        "docs/openapi.json is stale: python -m app.api.openapi > docs/openapi.json"


def test_every_public_route_is_documented(app):
    documented = {(method.upper(), path) for method, path, *_ in OPERATIONS}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX):
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule.removeprefix(PREFIX))
        if path in UNDOCUMENTED:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, f"{method} {path} is not in the OpenAPI description"


def test_served_with_docs(client):
    spec = client.get(f"{PREFIX}/openapi.json")
    assert spec.status_code == 200 and spec.get_json()["openapi"].startswith("3.")
    assert "/calls" in spec.get_json()["paths"]
    page = client.get(f"{PREFIX}/docs")
    assert page.status_code == 200 and "openapi.json" in page.get_data(as_text=True)


def test_call_schema_documents_every_field_and_rule():
    create = build_spec()["components"]["schemas"]["CallCreate"]
    assert set(create["required"]) == {"call_identifier", "agent_id", "client_id"}
    assert create["properties"]["observation_type"]["enum"] == ["voice", "text"]
    assert create["additionalProperties"] is False
    turn = build_spec()["components"]["schemas"]["Turn"]
    assert turn["properties"]["role"]["enum"] == ["AI Assistant", "User", "Function Call", "Function Call Result"]
