"""Re-analysing a call from its page (docs/dashboard.md#re-analysis): the same use case as
POST /calls/{id}/reanalyze, behind the dashboard's CSRF check, scoped to the workspace, and a
call still being analysed answered with a notice rather than an error page."""
from __future__ import annotations

import pytest

from tests.web.conftest import add_user, csrf_from, sign_in
from tests.web.test_pages import compute, submit

pytestmark = pytest.mark.services
BUSY = "Not re-analysed: the call is still being analysed."
LLM_METRIC = {"name": "Polite", "kind": "llm", "result_type": "boolean", "prompt": "Was the agent polite?"}


def token_of(client, call_id: int) -> str:
    return csrf_from(client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True))


def state(db, call_id: int) -> dict:
    row = db.execute("SELECT analysis_status, analysis_run FROM calls WHERE id = %s", (call_id,)).fetchone()
    runs = [r["run"] for r in db.execute("SELECT run FROM analysis_runs WHERE call_id = %s", (call_id,))]
    db.commit()  # end the read's transaction: the app's next write must not wait on it
    return {**row, "earlier_runs": runs}


def test_a_post_without_the_csrf_token_is_refused(client, acme, db):
    call_id = submit(client, acme)
    compute(db, call_id, success=True)
    sign_in(client, acme.email)
    assert "csrf_token" in client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True)
    for data in ({}, {"csrf_token": "not-the-sessions-token"}):
        response = client.post(f"/dashboard/calls/{call_id}/reanalysis", data=data)
        assert response.status_code == 403
        assert "did not come from this site" in response.get_data(as_text=True)
    assert state(db, call_id) == {"analysis_status": "computed", "analysis_run": 1, "earlier_runs": []}


def test_re_analysing_puts_the_call_back_to_pending_and_keeps_the_earlier_run(client, acme, db):
    call_id = submit(client, acme, call_identifier="rebook-7")
    compute(db, call_id, success=False, latency_ms=({"average_ms": 900}, False))
    sign_in(client, add_user(db, acme.tenant.workspace_id, "agent@acme.test", admin=False))  # a member, not an admin
    page = client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True)
    assert "not offered" not in page and 'id="reanalyze-form"' in page
    assert "No earlier runs" in page

    response = client.post(f"/dashboard/calls/{call_id}/reanalysis", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/dashboard/calls/{call_id}?reanalysis=started"
    assert state(db, call_id) == {"analysis_status": "pending", "analysis_run": 2, "earlier_runs": [1]}
    history = db.execute("SELECT to_status, code FROM call_status_history WHERE call_id = %s AND field = 'analysis_status'"
                         " ORDER BY id DESC LIMIT 1", (call_id,)).fetchone()
    db.commit()
    assert history == {"to_status": "pending", "code": "reanalyze"}

    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Re-analysis started: the call is pending until run 2 ends." in after
    runs = after[after.index('id="earlier-runs"'):after.index("</table>", after.index('id="earlier-runs"'))]
    assert "<td>1</td>" in runs and "computed" in runs and "1 failed of 1" in runs
    # pending now: the form gives way to a hint until the new run is final
    assert 'id="reanalyze-form"' not in after and "Re-analysis is offered once the current analysis is final." in after


@pytest.mark.parametrize("choice, expected_version", [("original", 1), ("current", 2)])
def test_the_select_chooses_the_custom_metrics_version(client, acme, db, choice, expected_version):
    headers = acme.tenant.headers
    metric = client.post("/api/public/v1/metrics", json=LLM_METRIC, headers=headers).get_json()
    call_id = submit(client, acme, metric_ids=[metric["id"]])
    compute(db, call_id)
    changed = client.patch(f"/api/public/v1/metrics/{metric['id']}", json={"prompt": "Was the agent courteous?"},
                           headers=headers).get_json()
    assert changed["version"] == 2
    sign_in(client, acme.email)
    page = client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True)
    assert '<select name="metric_versions">' in page
    response = client.post(f"/dashboard/calls/{call_id}/reanalysis",
                           data={"csrf_token": csrf_from(page), "metric_versions": choice})
    assert response.status_code == 303
    row = db.execute("SELECT metric_version, status FROM custom_results WHERE call_id = %s", (call_id,)).fetchone()
    db.commit()
    assert row == {"metric_version": expected_version, "status": "pending"}


def test_an_unknown_version_choice_is_a_clear_422(client, acme, db):
    call_id = submit(client, acme)
    compute(db, call_id)
    sign_in(client, acme.email)
    response = client.post(f"/dashboard/calls/{call_id}/reanalysis",
                           data={"csrf_token": token_of(client, call_id), "metric_versions": "latest"})
    assert response.status_code == 422 and "current or their original version" in response.get_data(as_text=True)
    assert state(db, call_id)["analysis_run"] == 1


def test_another_workspaces_call_is_not_found(client, acme, globex, db):
    theirs = submit(client, globex, call_identifier="globex-secret")
    compute(db, theirs)
    mine = submit(client, acme, call_identifier=str(theirs))  # an identifier that reads as their id
    compute(db, mine)
    sign_in(client, acme.email)
    token = token_of(client, mine)
    for call_id in (theirs, 999999):
        response = client.post(f"/dashboard/calls/{call_id}/reanalysis", data={"csrf_token": token})
        assert response.status_code == 404 and "globex-secret" not in response.get_data(as_text=True)
    assert state(db, theirs)["analysis_run"] == 1
    assert state(db, mine)["analysis_run"] == 1  # the id was never read as our call's identifier


def test_a_call_still_being_analysed_gets_a_notice_not_an_error_page(client, acme, db):
    call_id = submit(client, acme)  # just submitted: pending
    sign_in(client, acme.email)
    page = client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True)
    assert 'id="reanalyze-form"' not in page  # not offered while pending …
    # … and a post from a page loaded before the call went back to pending is answered with a notice
    response = client.post(f"/dashboard/calls/{call_id}/reanalysis", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/dashboard/calls/{call_id}?reanalysis=busy"
    shown = client.get(response.headers["Location"])
    assert shown.status_code == 200 and BUSY in shown.get_data(as_text=True)
    assert state(db, call_id) == {"analysis_status": "pending", "analysis_run": 1, "earlier_runs": []}
