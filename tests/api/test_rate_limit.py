"""Per-token rate limiting: 429 with Retry-After, per token, shared across web processes."""
from dataclasses import replace

from app import create_app

URL = "/api/public/v1/agents"


def limited_app(settings, rate=1.0, burst=3):
    return create_app(replace(settings, rate_limit_per_second=rate, rate_limit_burst=burst))


def test_burst_then_429_with_retry_after(settings, tenant, other_tenant):
    app = limited_app(settings)
    try:
        client = app.test_client()
        statuses = [client.get(URL, headers=tenant.headers).status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        response = client.get(URL, headers=tenant.headers)
        assert response.get_json()["error"]["code"] == "rate_limited"
        assert int(response.headers["Retry-After"]) >= 1
        # another token has its own budget
        assert client.get(URL, headers=other_tenant.headers).status_code == 200
    finally:
        app.extensions["callscope"].pool.close()


def test_budget_is_shared_across_web_processes(settings, tenant):
    first, second = limited_app(settings, burst=4), limited_app(settings, burst=4)
    try:
        a, b = first.test_client(), second.test_client()
        statuses = [c.get(URL, headers=tenant.headers).status_code for c in (a, b, a, b, a, b)]
        assert statuses.count(200) == 4 and statuses.count(429) == 2
    finally:
        first.extensions["callscope"].pool.close()
        second.extensions["callscope"].pool.close()


def test_redis_down_fails_open(settings, tenant):
    app = create_app(replace(settings, rate_limit_per_second=1.0, rate_limit_burst=1,
                             rate_limit_redis_url="redis://127.0.0.1:9/0"))
    try:
        client = app.test_client()
        assert [client.get(URL, headers=tenant.headers).status_code for _ in range(3)] == [200, 200, 200]
    finally:
        app.extensions["callscope"].pool.close()


def test_unauthenticated_requests_are_401_not_429(settings):
    app = limited_app(settings, burst=1)
    try:
        client = app.test_client()
        assert {client.get(URL).status_code for _ in range(3)} == {401}
    finally:
        app.extensions["callscope"].pool.close()
