"""Bearer-token authentication (docs/api.md#authentication): every bad token is a 401 with WWW-Authenticate."""
import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from app.auth import mint_token
from app.service import admin

URL = "/api/public/v1/calls"


def assert_401(response):
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] in ("missing_token", "invalid_token", "token_expired")


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_token_works(client, tenant):
    assert client.get(URL, headers=tenant.headers).status_code == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Token x", "Bearer not.a.jwt"])
def test_missing_or_malformed(client, header):
    headers = {"Authorization": header} if header is not None else {}
    assert_401(client.get(URL, headers=headers))


def test_revoked_token(client, db, tenant):
    admin.revoke_token(db, tenant.key_id)
    assert_401(client.get(URL, headers=tenant.headers))


def test_expired_token(client, db, settings, tenant):
    token = admin.issue_token(db, settings, tenant.workspace_id, expires_in_seconds=1)["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    expired = mint_token(settings.jwt_keys, tenant.workspace_id, claims["jti"],
                         expires_at=datetime.now(UTC) - timedelta(seconds=5))
    response = client.get(URL, headers={"Authorization": f"Bearer {expired}"})
    assert_401(response)
    assert response.get_json()["error"]["code"] == "token_expired"


def test_wrong_key_and_unknown_kid(client, settings, tenant):
    forged = mint_token((("test-key", "x" * 48),), tenant.workspace_id, tenant.key_id)
    assert_401(client.get(URL, headers={"Authorization": f"Bearer {forged}"}))
    unknown_kid = mint_token((("other", "k" * 48),), tenant.workspace_id, tenant.key_id)
    assert_401(client.get(URL, headers={"Authorization": f"Bearer {unknown_kid}"}))


def test_alg_none(client, tenant):
    token = b64({"alg": "none", "typ": "JWT", "kid": "test-key"}) + "." + b64(
        {"sub": str(tenant.workspace_id), "jti": tenant.key_id, "iat": 1}) + "."
    assert_401(client.get(URL, headers={"Authorization": f"Bearer {token}"}))


def test_tampered_workspace_claim(client, tenant, other_tenant):
    # re-signing is impossible without the key; a payload swap breaks the signature
    header, payload, signature = tenant.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(other_tenant.workspace_id)
    assert_401(client.get(URL, headers={"Authorization": f"Bearer {header}.{b64(claims)}.{signature}"}))


def test_key_of_another_workspace_cannot_be_repointed(client, settings, tenant, other_tenant):
    # even correctly signed, a key id only speaks for the workspace it was issued to
    token = mint_token(settings.jwt_keys, other_tenant.workspace_id, tenant.key_id)
    assert_401(client.get(URL, headers={"Authorization": f"Bearer {token}"}))


def test_key_rotation_old_key_still_verifies(client, app, db, settings, tenant):
    from dataclasses import replace

    from app import create_app

    rotated = replace(settings, jwt_keys=(("new-key", "n" * 48),) + settings.jwt_keys)
    new_app = create_app(rotated)
    try:
        c = new_app.test_client()
        assert c.get(URL, headers=tenant.headers).status_code == 200  # signed with the old key
        fresh = admin.issue_token(db, rotated, tenant.workspace_id)["token"]
        assert jwt.get_unverified_header(fresh)["kid"] == "new-key"
        assert c.get(URL, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    finally:
        new_app.extensions["callscope"].pool.close()


def test_a_maximum_lifetime_retires_old_eternal_tokens(client, app, db, settings, tenant):
    """CALLSCOPE_TOKEN_MAX_LIFETIME_DAYS (issue 16, finding 8): tokens issued before the limit
    was set carry no `exp`; their `iat` decides."""
    from dataclasses import replace

    from app import create_app

    old = mint_token(settings.jwt_keys, tenant.workspace_id, tenant.key_id, now=datetime.now(UTC) - timedelta(days=91))
    assert client.get(URL, headers={"Authorization": f"Bearer {old}"}).status_code == 200  # no limit by default
    limited = replace(settings, token_max_lifetime_days=90)
    limited_app = create_app(limited)
    try:
        c = limited_app.test_client()
        response = c.get(URL, headers={"Authorization": f"Bearer {old}"})
        assert_401(response)
        assert response.get_json()["error"]["code"] == "token_expired"
        recent = mint_token(settings.jwt_keys, tenant.workspace_id, tenant.key_id,
                            now=datetime.now(UTC) - timedelta(days=89))
        assert c.get(URL, headers={"Authorization": f"Bearer {recent}"}).status_code == 200
    finally:
        limited_app.extensions["callscope"].pool.close()


def test_issuing_under_a_maximum_lifetime(db, settings, tenant):
    from dataclasses import replace

    from app.errors import ValidationFailed

    limited = replace(settings, token_max_lifetime_days=30)
    issued = admin.issue_token(db, limited, tenant.workspace_id)
    claims = jwt.decode(issued["token"], options={"verify_signature": False})
    assert 30 * 86400 - 60 < claims["exp"] - claims["iat"] <= 30 * 86400  # the ceiling when none is asked
    shorter = admin.issue_token(db, limited, tenant.workspace_id, expires_in_seconds=3600)
    assert jwt.decode(shorter["token"], options={"verify_signature": False})["exp"] <= claims["iat"] + 3601
    with pytest.raises(ValidationFailed, match="maximum token lifetime"):
        admin.issue_token(db, limited, tenant.workspace_id, expires_in_seconds=31 * 86400)
    unlimited = admin.issue_token(db, settings, tenant.workspace_id)
    assert "exp" not in jwt.decode(unlimited["token"], options={"verify_signature": False})


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_revoked_token_stops_working_within_the_cache_period(app, client, db, tenant):
    """docs/api.md#authentication: a process trusts its last check of a key for
    CALLSCOPE_TOKEN_CACHE_SECONDS; revocation takes effect within that bound, not later."""
    from dataclasses import replace

    from app.auth import KeyCache

    clock = Clock()
    deps = app.extensions["callscope"]
    app.extensions["callscope"] = replace(deps, key_cache=KeyCache(deps.settings.token_cache_seconds, clock=clock))
    assert client.get(URL, headers=tenant.headers).status_code == 200  # checked now, cached
    admin.revoke_token(db, tenant.key_id)
    clock.now += deps.settings.token_cache_seconds - 0.5
    assert client.get(URL, headers=tenant.headers).status_code == 200  # within the documented bound
    clock.now += 0.5
    assert_401(client.get(URL, headers=tenant.headers))  # the bound has passed: refused
    clock.now += 3600
    assert_401(client.get(URL, headers=tenant.headers))  # and it stays refused


def test_the_cache_never_outlives_the_keys_own_expiry():
    from app.auth import KeyCache

    clock, lookups = Clock(), []
    expires = datetime.fromtimestamp(clock.now + 3, UTC)

    def lookup(key_id):
        lookups.append(key_id)
        return (7, expires) if clock.now < expires.timestamp() else (None, None)

    cache = KeyCache(60, clock=clock)
    assert cache.workspace("key_a", lookup) == 7
    clock.now += 2
    assert cache.workspace("key_a", lookup) == 7 and lookups == ["key_a"]  # fresh: no query
    clock.now += 1
    assert cache.workspace("key_a", lookup) is None  # expired with the key, not 60 s later


def test_the_cache_holds_at_most_its_size_and_zero_means_no_cache():
    from app.auth import KeyCache

    lookups: list[str] = []

    def lookup(key_id):
        lookups.append(key_id)
        return 1, None

    small = KeyCache(60, max_entries=2, clock=Clock())
    for key in ("a", "b", "c", "a"):
        small.workspace(key, lookup)
    assert lookups == ["a", "b", "c", "a"]  # "a" was dropped to make room for "c"
    off, lookups[:] = KeyCache(0, clock=Clock()), []
    off.workspace("a", lookup)
    off.workspace("a", lookup)
    assert lookups == ["a", "a"]


def test_a_verified_token_is_kept_until_its_own_expiry_and_no_longer():
    from app.auth import KeyCache
    from app.errors import Unauthorized

    clock, verifications = Clock(), []

    def verify(token):
        verifications.append(token)
        if clock.now >= 1_000_100:
            raise Unauthorized("The token has expired.", code="token_expired")
        return 3, "key_x", 1_000_100.0

    cache = KeyCache(10, clock=clock)
    assert cache.verified("t", verify) == (3, "key_x")
    clock.now += 99
    assert cache.verified("t", verify) == (3, "key_x") and verifications == ["t"]  # kept: still valid
    clock.now += 1
    with pytest.raises(Unauthorized):
        cache.verified("t", verify)  # at its expiry it is verified again, and refused
