"""The admin CLI as an operator runs it: a real process, --json output, errors as JSON."""
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import JWT_KEYS, SECRET, database_url, service_url

CLI = str(Path(sys.executable).with_name("callscope"))


def cli(db_url, *args):
    env = {**os.environ, "CALLSCOPE_DATABASE_URL": db_url, "CALLSCOPE_JWT_KEYS": JWT_KEYS,
           "CALLSCOPE_SECRET_KEY": SECRET}
    result = subprocess.run([CLI, "--json", *args], capture_output=True, text=True, env=env, timeout=60)
    return result.returncode, json.loads(result.stdout)


def test_cli_round_trip(db, test_db_url, settings):
    from dataclasses import replace

    from app import create_app

    # revocation checks uncached (CALLSCOPE_TOKEN_CACHE_SECONDS=0): the revoke below bites at once
    # (the cache's bound has its own test in tests/api/test_auth.py)
    app = create_app(replace(settings, token_cache_seconds=0))
    client = app.test_client()
    assert cli(test_db_url, "db", "migrate") == (0, {"applied": []})  # already migrated: a no-op
    code, ws = cli(test_db_url, "workspaces", "create", "Acme")
    assert code == 0 and ws["name"] == "Acme"
    code, agent = cli(test_db_url, "agents", "create", "--workspace", str(ws["id"]), "--ai-channel", "right", "Bot")
    assert code == 0 and agent["ai_channel"] == "right"
    code, token = cli(test_db_url, "tokens", "issue", "--workspace", str(ws["id"]))
    assert code == 0 and token["key_id"].startswith("key_")
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert client.get(f"/api/public/v1/agents/{agent['id']}", headers=headers).status_code == 200
    code, revoked = cli(test_db_url, "tokens", "revoke", token["key_id"])
    assert code == 0 and revoked["revoked_at"]
    assert client.get(f"/api/public/v1/agents/{agent['id']}", headers=headers).status_code == 401
    app.extensions["callscope"].pool.close()


def test_cli_errors_are_json_with_a_code(db, test_db_url):
    code, out = cli(test_db_url, "tokens", "issue", "--workspace", "999999")
    assert code == 1 and out["error"]["code"] == "not_found"
    code, out = cli(test_db_url, "tokens", "revoke", "key_nope")
    assert code == 1 and out["error"]["code"] == "not_found"


def bare_env(**settings) -> dict:
    """The environment without any CALLSCOPE_* setting, plus `settings`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("CALLSCOPE_")}, **settings}


def run(args, env, cwd=None):
    result = subprocess.run([CLI, "--json", *args], capture_output=True, text=True, env=env, timeout=60, cwd=cwd)
    return result.returncode, json.loads(result.stdout)


def test_commands_that_sign_nothing_need_no_secret(db, test_db_url, tmp_path):
    env = bare_env(CALLSCOPE_DATABASE_URL=test_db_url)
    # in a directory without .callscope-dev/env: nothing but the environment gives settings
    assert run(["db", "migrate"], env, cwd=tmp_path) == (0, {"applied": []})
    code, ws = run(["workspaces", "create", "No secrets"], env, cwd=tmp_path)
    assert code == 0 and ws["name"] == "No secrets"
    code, out = run(["tokens", "issue", "--workspace", str(ws["id"])], env, cwd=tmp_path)
    assert code == 1 and out["error"]["code"] == "invalid_settings" and "CALLSCOPE_JWT_KEYS" in out["error"]["message"]


def test_the_dev_env_file_is_found_next_to_a_dev_instance(db, test_db_url, tmp_path):
    """A second shell in the checkout: `.callscope-dev/env` (written by deploy/dev.sh) is read."""
    (tmp_path / ".callscope-dev").mkdir()
    (tmp_path / ".callscope-dev" / "env").write_text(
        f"# written by deploy/dev.sh\nCALLSCOPE_DATABASE_URL={test_db_url}\nCALLSCOPE_JWT_KEYS={JWT_KEYS}\n"
        f"export CALLSCOPE_SECRET_KEY='{SECRET}'\nPATH=/usr/bin:/bin\n")
    code, ws = run(["workspaces", "create", "Dev"], bare_env(), cwd=tmp_path)
    assert code == 0 and ws["name"] == "Dev"
    code, token = run(["tokens", "issue", "--workspace", str(ws["id"])], bare_env(), cwd=tmp_path)
    assert code == 0 and token["key_id"].startswith("key_")


def test_env_file_option_and_the_environment_wins(db, test_db_url, tmp_path):
    settings = tmp_path / "callscope.env"
    settings.write_text("CALLSCOPE_DATABASE_URL=postgresql://nobody@127.0.0.1:1/nowhere\n")
    code, ws = run(["--env-file", str(settings), "workspaces", "create", "Env"],
                   bare_env(CALLSCOPE_DATABASE_URL=test_db_url))
    assert code == 0 and ws["name"] == "Env"
    settings.write_text(f"CALLSCOPE_DATABASE_URL={test_db_url}\n")
    code, ws = run(["--env-file", str(settings), "workspaces", "create", "Env 2"], bare_env())
    assert code == 0 and ws["name"] == "Env 2"
    code, out = run(["--env-file", str(tmp_path / "missing.env"), "db", "migrate"], bare_env(), cwd=tmp_path)
    assert code == 1 and "missing.env" in out["error"]["message"]


def test_secrets_reseal_moves_every_secret_to_the_new_key(db, test_db_url, client, tenant):
    """Prepend a new encryption key, reseal, drop the old key: integrations and webhooks still work."""
    from cryptography.fernet import Fernet

    from app.secretbox import SecretBox, derived_key

    integration = client.post("/api/public/v1/integrations", headers=tenant.headers, json={
        "platform": "retell", "name": "r", "signing_secret": "platform-secret-123456",
        "default_agent_id": tenant.agent_id, "api_key": "api-key-abcdefgh"}).get_json()
    webhook = client.post("/api/public/v1/webhooks", headers=tenant.headers, json={"url": "http://127.0.0.1:9/h"})
    client.post(f"/api/public/v1/webhooks/{webhook.get_json()['id']}/rotate-secret", headers=tenant.headers)
    new_key = Fernet.generate_key().decode()
    env = {**os.environ, "CALLSCOPE_DATABASE_URL": test_db_url, "CALLSCOPE_SECRET_KEY": SECRET,
           "CALLSCOPE_ENCRYPTION_KEYS": f"{new_key},{derived_key(SECRET)}"}
    result = subprocess.run([CLI, "--json", "secrets", "reseal"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"resealed": {"integrations": 1, "webhook_endpoints": 1}}
    only_new = SecretBox([new_key])
    db.commit()
    row = db.execute("SELECT signing_secret, api_key FROM integrations WHERE id = %s", (integration["id"],)).fetchone()
    assert only_new.open(row["signing_secret"]) == "platform-secret-123456"
    assert only_new.open(row["api_key"]) == "api-key-abcdefgh"
    hook = db.execute("SELECT secret, previous_secret FROM webhook_endpoints").fetchone()
    assert only_new.open(hook["secret"]).startswith("whsec_") and only_new.open(hook["previous_secret"]).startswith("whsec_")


def test_db_wait_holds_a_pod_until_the_release_job_has_migrated(tmp_path):
    """`callscope db wait` is the init container of every Kubernetes pod (docs/kubernetes.md#migrations):
    it returns only once every migration is applied, and gives up with a code after its timeout."""
    with psycopg.connect(service_url("ADMIN_URL"), autocommit=True) as admin:
        admin.execute('DROP DATABASE IF EXISTS "callscope_wait" WITH (FORCE)')
        admin.execute('CREATE DATABASE "callscope_wait" OWNER callscope')
    env = bare_env(CALLSCOPE_DATABASE_URL=database_url("callscope_wait"))
    code, out = run(["db", "wait", "--timeout", "0"], env, cwd=tmp_path)
    assert code == 1 and out["error"]["code"] == "migrations_pending"
    assert "0001_init" in out["error"]["message"]
    waiting = subprocess.Popen([CLI, "--json", "db", "wait", "--timeout", "60"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, text=True)
    try:
        try:  # it has looked at least once (every 2 s) and still waits: nothing is migrated
            waiting.wait(timeout=3)
            raise AssertionError(f"db wait returned before the migration: {waiting.stdout.read()}")
        except subprocess.TimeoutExpired:
            pass
        assert run(["db", "migrate"], env, cwd=tmp_path)[0] == 0
        assert waiting.wait(timeout=30) == 0
        assert json.loads(waiting.stdout.read()) == {"pending": []}
    finally:
        if waiting.poll() is None:
            waiting.kill()
