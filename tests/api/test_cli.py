"""The admin CLI as an operator runs it: a real process, --json output, errors as JSON."""
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import JWT_KEYS, SECRET

CLI = str(Path(sys.executable).with_name("callscope"))


def cli(db_url, *args):
    env = {**os.environ, "CALLSCOPE_DATABASE_URL": db_url, "CALLSCOPE_JWT_KEYS": JWT_KEYS,
           "CALLSCOPE_SECRET_KEY": SECRET}
    result = subprocess.run([CLI, "--json", *args], capture_output=True, text=True, env=env, timeout=60)
    return result.returncode, json.loads(result.stdout)


def test_cli_round_trip(db, test_db_url, client):
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


def test_cli_errors_are_json_with_a_code(db, test_db_url):
    code, out = cli(test_db_url, "tokens", "issue", "--workspace", "999999")
    assert code == 1 and out["error"]["code"] == "not_found"
    code, out = cli(test_db_url, "tokens", "revoke", "key_nope")
    assert code == 1 and out["error"]["code"] == "not_found"
