"""Sign-in fit for a self-hosted team: hashed passwords, session cookies, CSRF on every form,
sign-out, lock-out after repeated failures, CLI users and admin invitations."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import JWT_KEYS, SECRET
from tests.web.conftest import PASSWORD, csrf_from, sign_in

pytestmark = pytest.mark.services
CLI = str(Path(sys.executable).with_name("callscope"))


def test_signing_in_sets_a_guarded_session_cookie_and_signing_out_ends_it(client, acme, db):
    stored = db.execute("SELECT password_hash FROM users WHERE email = %s", (acme.email,)).fetchone()
    assert stored["password_hash"].startswith("$argon2id$") and PASSWORD not in stored["password_hash"]
    response = sign_in(client, acme.email)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("callscope_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie  # plain http in development
    page = client.get("/dashboard/")
    assert page.status_code == 200 and acme.email in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    assert client.post("/dashboard/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/dashboard/").status_code == 302  # the old cookie no longer signs anyone in
    assert db.execute("SELECT count(*) AS n FROM user_sessions").fetchone()["n"] == 0


def test_the_cookie_is_secure_over_https(app, acme):
    client = app.test_client()
    page = client.get("/dashboard/sign-in", base_url="https://dash.example")
    response = client.post("/dashboard/sign-in", base_url="https://dash.example",
                           data={"email": acme.email, "password": PASSWORD,
                                 "csrf_token": csrf_from(page.get_data(as_text=True))})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("callscope_session="))
    assert "Secure" in cookie


def test_wrong_password_and_unknown_email_get_the_same_answer(client, acme):
    wrong = sign_in(client, acme.email, "not the password")
    unknown = sign_in(client, "nobody@acme.test", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert "Wrong email or password." in unknown.get_data(as_text=True)


def test_repeated_failures_lock_the_account_until_a_reset(client, acme, test_db_url):
    for _ in range(5):
        assert sign_in(client, acme.email, "guess guess guess").status_code == 401
    locked = sign_in(client, acme.email)  # even the right password is refused while locked
    assert locked.status_code == 429 and "locked" in locked.get_data(as_text=True)
    result = subprocess.run([CLI, "--json", "users", "reset-password", "--password-stdin", acme.email],
                            input="a brand new passphrase\n", capture_output=True, text=True, timeout=60,
                            env={**os.environ, "CALLSCOPE_DATABASE_URL": test_db_url})
    assert result.returncode == 0, result.stderr
    assert sign_in(client, acme.email, "a brand new passphrase").status_code == 302


def test_every_form_refuses_a_post_without_its_csrf_token(client, acme, db):
    call_id = client.post("/api/public/v1/calls", headers=acme.tenant.headers,
                          json={"call_identifier": "c1", "agent_id": acme.tenant.agent_id,
                                "client_id": acme.tenant.workspace_id,
                                "transcript": [{"role": "User", "content": "hi"}]}).get_json()["id"]
    # sign-in itself: a cross-site form cannot know the cookie's token
    assert client.post("/dashboard/sign-in", data={"email": acme.email, "password": PASSWORD}).status_code == 403
    client.get("/dashboard/sign-in")
    assert client.post("/dashboard/sign-in", data={"email": acme.email, "password": PASSWORD,
                                                   "csrf_token": "forged"}).status_code == 403
    sign_in(client, acme.email)
    for path, data in ((f"/dashboard/calls/{call_id}/annotations", {"tag": "x"}), ("/dashboard/users", {"email": "e@x.test"}),
                       ("/dashboard/sign-out", {})):
        response = client.post(path, data=data)
        assert response.status_code == 403, path
        assert client.post(path, data={**data, "csrf_token": "wrong"}).status_code == 403, path
    assert db.execute("SELECT tag FROM calls WHERE id = %s", (call_id,)).fetchone()["tag"] is None
    token = csrf_from(client.get(f"/dashboard/calls/{call_id}").get_data(as_text=True))
    saved = client.post(f"/dashboard/calls/{call_id}/annotations", data={"tag": "escalated", "csrf_token": token})
    assert saved.status_code == 302
    assert db.execute("SELECT tag FROM calls WHERE id = %s", (call_id,)).fetchone()["tag"] == "escalated"


def test_an_admin_invites_a_user_who_chooses_a_password_once(app, acme, db):
    admin = app.test_client()
    sign_in(admin, acme.email)
    token = csrf_from(admin.get("/dashboard/users").get_data(as_text=True))
    page = admin.post("/dashboard/users", data={"email": "new@acme.test", "csrf_token": token}).get_data(as_text=True)
    link = page[page.index("/dashboard/invite/"):].split('"')[0]
    newcomer = app.test_client()
    form = newcomer.get(link)
    assert form.status_code == 200 and "new@acme.test" in form.get_data(as_text=True)
    csrf = csrf_from(form.get_data(as_text=True))
    short = newcomer.post(link, data={"password": "short", "confirm": "short", "csrf_token": csrf})
    assert short.status_code == 422
    done = newcomer.post(link, data={"password": "a long enough one", "confirm": "a long enough one", "csrf_token": csrf})
    assert done.status_code == 302 and newcomer.get("/dashboard/").status_code == 200
    assert newcomer.get(link).status_code == 404  # used
    assert newcomer.get("/dashboard/users").status_code == 404  # not an admin
    assert sign_in(app.test_client(), "new@acme.test", "a long enough one").status_code == 302


def test_cli_creates_users_with_a_password_or_a_link(db, test_db_url, acme):
    env = {**os.environ, "CALLSCOPE_DATABASE_URL": test_db_url, "CALLSCOPE_JWT_KEYS": JWT_KEYS,
           "CALLSCOPE_SECRET_KEY": SECRET}
    ws = str(acme.tenant.workspace_id)
    made = subprocess.run([CLI, "--json", "users", "create", "--workspace", ws, "--password-stdin", "ops@acme.test"],
                          input="twelve chars!!\n", capture_output=True, text=True, env=env, timeout=60)
    assert made.returncode == 0 and '"email": "ops@acme.test"' in made.stdout
    linked = subprocess.run([CLI, "--json", "users", "create", "--workspace", ws, "--admin", "boss@acme.test"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert linked.returncode == 0 and "/dashboard/invite/" in linked.stdout
    taken = subprocess.run([CLI, "--json", "users", "create", "--workspace", ws, "--password-stdin", "OPS@acme.test"],
                           input="twelve chars!!\n", capture_output=True, text=True, env=env, timeout=60)
    assert taken.returncode == 1 and "email_taken" in taken.stdout
    weak = subprocess.run([CLI, "--json", "users", "create", "--workspace", ws, "--password-stdin", "x@acme.test"],
                          input="short\n", capture_output=True, text=True, env=env, timeout=60)
    assert weak.returncode == 1 and "validation_failed" in weak.stdout


def test_an_admin_resets_and_removes_members_but_not_themselves(app, acme, db):
    from app.service import users

    member = users.create_user(db, acme.tenant.workspace_id, "member@acme.test", PASSWORD, False)
    me = db.execute("SELECT id FROM users WHERE email = %s", (acme.email,)).fetchone()["id"]
    other = app.test_client()
    sign_in(other, "member@acme.test")
    admin = app.test_client()
    sign_in(admin, acme.email)
    token = csrf_from(admin.get("/dashboard/users").get_data(as_text=True))
    linked = admin.post(f"/dashboard/users/{member['id']}/link", data={"csrf_token": token}).get_data(as_text=True)
    assert "A set-password link for member@acme.test" in linked and "/dashboard/invite/" in linked
    assert admin.post(f"/dashboard/users/{me}/remove", data={"csrf_token": token}).status_code == 422
    removed = admin.post(f"/dashboard/users/{member['id']}/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    assert other.get("/dashboard/").status_code == 302  # their session ended with them
    assert sign_in(app.test_client(), "member@acme.test").status_code == 401


def test_members_and_other_workspaces_cannot_manage_users(app, acme, globex, db):
    from app.service import users

    member = users.create_user(db, acme.tenant.workspace_id, "member@acme.test", PASSWORD, False)
    plain = app.test_client()
    sign_in(plain, "member@acme.test")
    token = csrf_from(plain.get("/dashboard/").get_data(as_text=True))
    assert plain.get("/dashboard/users").status_code == 404
    assert plain.post(f"/dashboard/users/{member['id']}/link", data={"csrf_token": token}).status_code == 404
    outsider = app.test_client()
    sign_in(outsider, globex.email)
    token = csrf_from(outsider.get("/dashboard/users").get_data(as_text=True))
    for action in ("link", "remove"):
        assert outsider.post(f"/dashboard/users/{member['id']}/{action}", data={"csrf_token": token}).status_code == 404
    assert db.execute("SELECT count(*) AS n FROM users WHERE id = %s", (member["id"],)).fetchone()["n"] == 1


def test_cli_deletes_a_user(db, test_db_url, acme):
    result = subprocess.run([CLI, "--json", "users", "delete", acme.email], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "CALLSCOPE_DATABASE_URL": test_db_url})
    assert result.returncode == 0 and '"deleted": true' in result.stdout
    again = subprocess.run([CLI, "--json", "users", "delete", acme.email], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "CALLSCOPE_DATABASE_URL": test_db_url})
    assert again.returncode == 1 and "not_found" in again.stdout


def _client_from(app, address: str, forwarded_for: str | None = None):
    environ = {"REMOTE_ADDR": address}
    if forwarded_for:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    http = app.test_client()
    http.environ_base.update(environ)
    return http


def test_one_address_gets_a_few_attempts_a_minute_whatever_account_it_names(settings, db, acme, globex):
    """Password spraying — one password tried on every account — never trips a per-account lock:
    the address pays instead. Its attempts run out (429, Retry-After) before anything is hashed,
    even for the right password; another address is unaffected; a forged X-Forwarded-For does
    not buy new attempts unless a trusted proxy is configured, and then the proxy's clients are
    counted apart."""
    from dataclasses import replace

    from app import create_app

    app = create_app(replace(settings, signin_per_minute=3))
    try:
        sprayer = _client_from(app, "198.51.100.7")
        for email in ("a@acme.test", "b@acme.test", globex.email):
            assert sign_in(sprayer, email, "Summer2026!").status_code == 401
        refused = sign_in(sprayer, acme.email)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert "Too many sign-in attempts" in refused.get_data(as_text=True)
        assert "callscope_session" not in refused.headers.get("Set-Cookie", "")
        forged = _client_from(app, "198.51.100.7", forwarded_for="203.0.113.50")
        assert sign_in(forged, acme.email).status_code == 429
        assert sign_in(_client_from(app, "198.51.100.8"), acme.email).status_code == 302
        # the accounts themselves are not locked by the sprayer's attempts
        assert db.execute("SELECT max(failed_signins) AS n FROM users").fetchone()["n"] == 1
    finally:
        app.extensions["callscope"].pool.close()
    behind_proxy = create_app(replace(settings, signin_per_minute=3, proxy_hops=1))
    try:
        for _ in range(3):
            assert sign_in(_client_from(behind_proxy, "10.0.0.2", "203.0.113.60"), globex.email, "x").status_code == 401
        assert sign_in(_client_from(behind_proxy, "10.0.0.2", "203.0.113.60"), acme.email).status_code == 429
        assert sign_in(_client_from(behind_proxy, "10.0.0.2", "203.0.113.61"), acme.email).status_code == 302
    finally:
        behind_proxy.extensions["callscope"].pool.close()
