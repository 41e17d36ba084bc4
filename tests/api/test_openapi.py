"""The OpenAPI description: valid, generated from the schemas, in sync with the routes and with
the committed copy (docs/openapi.json)."""
import hashlib
import json
import re
from pathlib import Path

from openapi_spec_validator import validate

from app.api.openapi import PREFIX, build_spec

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
VENDORED = Path(__file__).resolve().parents[2] / "app" / "static" / "redoc"
UNDOCUMENTED = {"/recordings", "/openapi.json", "/docs", "/docs/redoc.standalone.js"}  # signed links, this document, its viewer


def test_spec_is_valid_openapi_3():
    validate(build_spec())


def test_committed_copy_is_current():
    assert json.loads(COMMITTED.read_text()) == build_spec(), \
        "docs/openapi.json is stale: python -m app.api.openapi > docs/openapi.json"


def test_every_public_route_is_documented(app):
    documented = {(method.upper(), path) for path, operations in build_spec()["paths"].items() for method in operations}
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


def test_docs_page_loads_only_its_own_pinned_redoc_under_a_csp(client):
    page = client.get(f"{PREFIX}/docs")
    html = page.get_data(as_text=True)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert scripts == [f"{PREFIX}/docs/redoc.standalone.js"] and "<script>" not in html  # no CDN, nothing inline
    assert not re.search(r"https?://", html)
    bundle = client.get(scripts[0])
    assert bundle.status_code == 200 and bundle.mimetype == "text/javascript"
    # the file is the one deploy/vendor_redoc.sh recorded: its version, licence and hash
    info = dict(line.split(": ", 1) for line in (VENDORED / "VERSION").read_text().splitlines())
    assert hashlib.sha256(bundle.data).hexdigest() == info["sha256"]
    assert f"Version: {info['version']}" in bundle.data[:400].decode()
    assert info["licence"].startswith("MIT") and (VENDORED / "LICENSE").is_file()


def test_call_schema_documents_every_field_and_rule():
    create = build_spec()["components"]["schemas"]["CallCreate"]
    assert set(create["required"]) == {"call_identifier", "agent_id", "client_id"}
    assert create["properties"]["observation_type"]["enum"] == ["voice", "text"]
    assert create["additionalProperties"] is False
    turn = build_spec()["components"]["schemas"]["Turn"]
    assert turn["properties"]["role"]["enum"] == ["AI Assistant", "User", "Function Call", "Function Call Result"]
