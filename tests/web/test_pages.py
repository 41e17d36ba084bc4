"""The dashboard's pages through the test client: tenant isolation, markup shown as text, the
Content-Security-Policy, the calls list's filters, sorting and pages, an agent's trends."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from psycopg.types.json import Jsonb

from tests.web.conftest import sign_in

pytestmark = pytest.mark.services
SCRIPT = "<script>alert('x')</script>"
ATTRIBUTE = "\" onmouseover=\"alert(1)\" x=\""


def submit(client, ws, **fields) -> int:
    body = {"call_identifier": "c", "agent_id": ws.tenant.agent_id, "client_id": ws.tenant.workspace_id,
            "transcript": [{"role": "AI Assistant", "content": "Hello", "start_time": 0.0, "end_time": 1.0},
                           {"role": "User", "content": "Hi", "start_time": 1.5, "end_time": 2.0}], **fields}
    response = client.post("/api/public/v1/calls", json=body, headers=ws.tenant.headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def compute(db, call_id: int, success: bool | None = None, **results) -> None:
    """Write results as the finalize stage would (computed, with verdicts)."""
    db.execute("UPDATE calls SET analysis_status = 'computed', call_success = %s WHERE id = %s", (success, call_id))
    for key, (data, passed) in results.items():
        db.execute("UPDATE metric_results SET status = 'computed', result_data = %s, passed = %s"
                   " WHERE call_id = %s AND metric_key = %s", (Jsonb(data), passed, call_id, key))
    db.commit()


def test_another_workspaces_call_and_agent_are_not_found(client, acme, globex):
    theirs = submit(client, globex, call_identifier="globex-secret")
    sign_in(client, acme.email)
    for path in (f"/dashboard/calls/{theirs}", f"/dashboard/agents/{globex.tenant.agent_id}",
                 "/dashboard/calls/999999", "/dashboard/no-such-page"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "globex-secret" not in response.get_data(as_text=True)
        assert response.mimetype == "text/html"
    listing = client.get("/dashboard/?q=globex").get_data(as_text=True)
    assert "globex-secret" not in listing and "0 calls" in listing
    # not even the annotation form reaches it
    page = client.get("/dashboard/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(f"/dashboard/calls/{theirs}/annotations", data={"tag": "x", "csrf_token": token}).status_code == 404


def test_markup_in_identifiers_metadata_and_transcript_is_shown_as_text(client, acme):
    call_id = submit(client, acme, call_identifier=SCRIPT + ATTRIBUTE, label=SCRIPT,
                     metadata={SCRIPT: ATTRIBUTE, "note": "<img src=x onerror=alert(2)>"},
                     transcript=[{"role": "User", "content": SCRIPT + ATTRIBUTE, "start_time": 0.0, "end_time": 1.0},
                                 {"role": "AI Assistant", "content": "</textarea><svg onload=alert(3)>",
                                  "start_time": 1.2, "end_time": 2.0}])
    sign_in(client, acme.email)
    for path in ("/dashboard/", f"/dashboard/calls/{call_id}"):
        html = client.get(path).get_data(as_text=True)
        assert SCRIPT not in html and "<img src=x" not in html and "<svg onload" not in html
        assert 'onmouseover="alert' not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    page = client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(2)&gt;" in page and "&lt;/textarea&gt;&lt;svg onload=alert(3)&gt;" in page


def test_pages_carry_a_strict_content_security_policy(client, acme):
    call_id = submit(client, acme)
    sign_in(client, acme.email)
    for path in ("/dashboard/sign-in", "/dashboard/", f"/dashboard/calls/{call_id}",
                 f"/dashboard/agents/{acme.tenant.agent_id}", "/dashboard/agents", "/dashboard/users"):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "script-src 'self'" in policy and "style-src 'self'" in policy and "default-src 'none'" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        html = response.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path  # no inline script
        assert not re.search(r"\sstyle=", html) and "<style" not in html, path  # no inline style
        assert not re.search(r"\son[a-z]+=", html), path  # no inline event handlers
        assert "http://" not in re.sub(r'(xmlns="http://www.w3.org/2000/svg"|http://127\.0\.0\.1[^"]*)', "", html)


def test_the_list_filters_sorts_and_pages(client, acme, db):
    now = datetime.now(UTC).replace(microsecond=0)
    ids = {}
    for i, name in enumerate(["alpha", "bravo", "charlie", "delta"]):
        ids[name] = submit(client, acme, call_identifier=f"{name}-call", metadata={"team": "blue" if i % 2 else "red"},
                           call_timestamp=(now - timedelta(days=i)).isoformat(), duration_seconds=60 * (i + 1))
    compute(db, ids["alpha"], True, latency_ms=({"average_ms": 900, "turns": []}, True),
            user_interruptions=({"count": 1, "interruptions": []}, None))
    compute(db, ids["bravo"], False, latency_ms=({"average_ms": 2500, "turns": []}, False),
            user_interruptions=({"count": 4, "interruptions": []}, None))
    sign_in(client, acme.email)

    def shown(query: str) -> list[str]:
        return re.findall(r'class="call-link"[^>]*>([^<]+)<', client.get(f"/dashboard/?{query}").get_data(as_text=True))

    assert shown("") == ["alpha-call", "bravo-call", "charlie-call", "delta-call"]  # newest first
    assert shown("status=computed") == ["alpha-call", "bravo-call"]
    assert shown("success=no") == ["bravo-call"]
    assert shown("success=unknown") == ["charlie-call", "delta-call"]
    assert shown("failing=latency_ms") == ["bravo-call"]
    assert shown("q=blue") == ["bravo-call", "delta-call"]  # free text finds metadata
    assert shown("q=char") == ["charlie-call"]
    assert shown("q=%25") == []  # a literal %, not a wildcard
    day = (now - timedelta(days=1)).date().isoformat()
    assert shown(f"from={day}&to={day}") == ["bravo-call"]
    # calls without the number come last, then by id in the same direction
    assert shown(f"agent={acme.tenant.agent_id}&sort=latency&dir=desc") == ["bravo-call", "alpha-call", "delta-call",
                                                                            "charlie-call"]
    assert shown("sort=interruptions&dir=asc")[:2] == ["alpha-call", "bravo-call"]
    assert shown("sort=duration&dir=desc") == ["delta-call", "charlie-call", "bravo-call", "alpha-call"]
    page = client.get("/dashboard/?from=yesterday&status=done&per_page=25&page=2")
    assert page.status_code == 200 and "must be a date" in page.get_data(as_text=True)
    row = client.get("/dashboard/?q=bravo").get_data(as_text=True)
    assert "2,500 ms" in row and "✗ failed" in row and "2:00" in row  # headline numbers


def test_pagination(client, acme):
    for i in range(27):
        submit(client, acme, call_identifier=f"call-{i:02d}")
    sign_in(client, acme.email)
    first = client.get("/dashboard/").get_data(as_text=True)
    second = client.get("/dashboard/?page=2").get_data(as_text=True)
    assert first.count('class="call-row"') == 25 and second.count('class="call-row"') == 2
    assert "page 1 of 2" in first and "27 calls" in first


def test_agent_trends_daily_percentiles_and_a_comparison(client, acme, db):
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    latencies = {0: [400, 600, 800, 1000], 1: [2000]}  # days ago → per-turn latencies
    for days_ago, values in latencies.items():
        call_id = submit(client, acme, call_identifier=f"d{days_ago}",
                         call_timestamp=(today - timedelta(days=days_ago)).isoformat())
        compute(db, call_id, days_ago == 0,
                latency_ms=({"average_ms": 0, "turns": [{"turn": i, "latency_ms": v, "at_second": i}
                                                         for i, v in enumerate(values)]}, None),
                user_interruptions=({"count": 2 + days_ago, "interruptions": []}, None),
                talk_ratio=({"ratio": 0.5}, None))
    sign_in(client, acme.email)
    html = client.get(f"/dashboard/agents/{acme.tenant.agent_id}").get_data(as_text=True)
    # the whole period: p50 of 400, 600, 800, 1000, 2000 is 800; p95 interpolates to 1800
    assert "800 ms" in html and "1,800 ms" in html and "50%" in html
    assert html.count('class="card chart"') == 6
    d = today.date()
    query = (f"from={d.isoformat()}&to={d.isoformat()}&cfrom={(d - timedelta(days=1)).isoformat()}"
             f"&cto={(d - timedelta(days=1)).isoformat()}")
    compared = client.get(f"/dashboard/agents/{acme.tenant.agent_id}?{query}").get_data(as_text=True)
    assert 'id="comparison"' in compared
    table = compared[compared.index('id="comparison"'):]
    assert "700 ms" in table and "2,000 ms" in table and "-1,300 ms (better)" in table
    bad = client.get(f"/dashboard/agents/{acme.tenant.agent_id}?from=2025-02-01&to=2025-01-01")
    assert bad.status_code == 200 and "runs forward" in bad.get_data(as_text=True)
