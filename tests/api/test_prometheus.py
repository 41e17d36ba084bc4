"""GET /metrics of the web process (docs/operations.md#metrics), read with prometheus_client's
own parser: after real requests the counters moved by exactly the requests made, and the backlog
(queue depth, pending calls by age) is what the broker and the database hold."""
from __future__ import annotations

from tests.api.conftest import call_body
from tests.support.prometheus import Samples, moved, parse

CALLS = "/api/public/v1/calls"
CALL = "/api/public/v1/calls/<ref>"


def scrape(client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def test_requests_calls_and_errors_are_counted_by_route_status_and_code(app, client, tenant):
    import redis

    from app.relay import drain

    redis.Redis.from_url(app.extensions["callscope"].settings.broker_url).delete("control")
    before = scrape(client)
    for n in range(3):
        response = client.post(CALLS, json=call_body(tenant, call_identifier=f"prom-{n}"), headers=tenant.headers)
        assert response.status_code == 202
    assert client.post(CALLS, json={"call_identifier": "x"}, headers=tenant.headers).status_code == 422
    assert client.get(f"{CALLS}/no-such-call", headers=tenant.headers).status_code == 404
    assert client.get(CALLS).status_code == 401
    after = scrape(client)

    assert moved(before, after, "callscope_calls_accepted_total", observation_type="voice") == 3
    assert moved(before, after, "callscope_http_requests_total", route=CALLS, method="POST", status="202") == 3
    assert moved(before, after, "callscope_http_requests_total", route=CALLS, method="POST", status="422") == 1
    assert moved(before, after, "callscope_http_requests_total", route=CALL, method="GET", status="404") == 1
    assert moved(before, after, "callscope_http_errors_total", status="422", code="validation_failed") == 1
    assert moved(before, after, "callscope_http_errors_total", status="404", code="not_found") == 1
    assert moved(before, after, "callscope_http_errors_total", status="401", code="missing_token") == 1
    # the latency histogram saw every POST, whatever its answer
    assert moved(before, after, "callscope_http_request_duration_seconds_count", route=CALLS, method="POST") == 4
    # the backlog: the accepted calls' tasks wait in the outbox, the calls are pending, all under a minute old
    assert moved(before, after, "callscope_outbox_waiting") == 3
    assert moved(before, after, "callscope_calls_pending", age="0-1m") == 3
    assert 0 <= after[("callscope_oldest_pending_call_age_seconds", ())] < 3600
    assert after[("callscope_broker_up", ())] == 1 and after[("callscope_database_up", ())] == 1
    # relayed: the tasks move from the outbox to the control queue, and the relay counts them
    assert drain(app.extensions["callscope.relay"]) == 3
    relayed = scrape(client)
    assert moved(after, relayed, "callscope_outbox_waiting") == -3
    assert moved(after, relayed, "callscope_queue_depth", queue="control") == 3
    assert moved(after, relayed, "callscope_outbox_relayed_total", task="calls.analyze") == 3
    assert moved(after, relayed, "callscope_outbox_wait_seconds_count", task="calls.analyze") == 3


def test_an_unknown_path_is_one_series_not_one_per_path(client):
    before = scrape(client)
    for path in ("/nothing-here", "/wp-login.php", "/api/public/v1/nope"):
        assert client.get(path).status_code == 404
    assert client.open("/api/public/v1/calls", method="BREW").status_code == 405
    after = scrape(client)
    assert moved(before, after, "callscope_http_requests_total", route="unmatched", method="GET", status="404") == 3
    assert moved(before, after, "callscope_http_requests_total", route="unmatched", method="other", status="405") == 1
    assert not any("wp-login" in str(labels) or "BREW" in str(labels) for _, labels in after)


def test_the_scrape_survives_a_database_outage(settings):
    """Postgres unreachable: /metrics still answers, and says the backlog could not be read."""
    from dataclasses import replace

    from app import create_app

    app = create_app(replace(settings, database_url="postgresql://callscope@127.0.0.1:9/none", db_timeout_seconds=1.0))
    try:
        samples = scrape(app.test_client())
    finally:
        app.extensions["callscope"].pool.close(timeout=1)
    assert samples[("callscope_database_up", ())] == 0
    assert samples[("callscope_broker_up", ())] == 1
    assert not any(name == "callscope_calls_pending" for name, _ in samples)
