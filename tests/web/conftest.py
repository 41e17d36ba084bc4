"""Dashboard tests: the Flask test client for pages and security rules, and a real headless
Chromium (Debian's, driven through its chromedriver by Selenium) against the app served on
loopback for the browser tests."""
from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, replace

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.service import metrics as metrics_service
from app.service import users
from tests.api.conftest import Tenant, app, call_body, client, fresh_rate_limits, make_tenant, settings  # noqa: F401
from tests.workers.conftest import env, transcriber  # noqa: F401  (the stage fixtures build real calls)

pytestmark = pytest.mark.services

PASSWORD = "correct horse battery"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "artifacts")


def add_user(db, workspace_id: int, email: str, admin: bool = True) -> str:
    users.create_user(db, workspace_id, email, PASSWORD, admin)
    return email


def sign_in(http, email: str, password: str = PASSWORD):
    """Sign in through the form (fetching it first for the CSRF cookie and token)."""
    page = http.get("/dashboard/sign-in")
    token = csrf_from(page.get_data(as_text=True))
    return http.post("/dashboard/sign-in", data={"email": email, "password": password, "csrf_token": token})


def csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


@dataclass
class Workspace:
    tenant: Tenant
    email: str


@pytest.fixture()
def acme(db, settings) -> Workspace:  # noqa: F811
    tenant = make_tenant(db, settings, "acme")
    return Workspace(tenant, add_user(db, tenant.workspace_id, "lead@acme.test"))


@pytest.fixture()
def globex(db, settings) -> Workspace:  # noqa: F811
    tenant = make_tenant(db, settings, "globex")
    return Workspace(tenant, add_user(db, tenant.workspace_id, "lead@globex.test"))


class LiveServer:
    """The app served by a real HTTP server on 127.0.0.1 (a thread), as a browser needs it."""

    def __init__(self, settings_):
        self._app = None
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"
        # recording links point at this server (the local store signs them with its base URL)
        self.app = create_app(replace(settings_, public_base_url=self.url))
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _dispatch(self, environ, start_response):
        return self.app(environ, start_response)

    def close(self):
        self.server.shutdown()
        self.app.extensions["callscope"].pool.close()


@pytest.fixture()
def browser():
    """Headless Debian Chromium. Everything but loopback is unreachable: names resolve to
    nothing and any other address goes to a dead local proxy; background services are off."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are not installed: run the suite through deploy/test.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                 "--window-size=1440,1900", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-pings",
                 "--disable-domain-reliability", "--disable-client-side-phishing-detection",
                 "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                 "--proxy-server=http://127.0.0.1:9", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def stereo_transcript(synth) -> list[dict]:
    """The provided transcript of a generated call: each line's text at its true times."""
    ends = {party: iter(spans) for party, spans in synth.truth.items()}
    roles = {"ai": "AI Assistant", "user": "User"}
    turns = []
    for line in synth.lines:
        start, end = next(ends[line.party])
        turns.append({"role": roles[line.party], "content": line.text, "start_time": round(start, 3),
                      "end_time": round(end, 3)})
    return sorted(turns, key=lambda t: t["start_time"])


@pytest.fixture()
def computed_stereo_call(env):  # noqa: F811
    """A stereo call analysed by the real pipeline stages (speech activity, transcription, the
    metrics, an LLM judge on a local fake and a code judge): (stage deps, call id, db, new_call)."""
    from tests.support import callgen as cg
    from tests.support.fake_llm import FakeLLM
    from tests.support.http_server import RecordingServer
    from workers.judges.llm import OpenAIJudge
    from workers.stages import analyze, audio, finalize, judges, recording, transcript

    deps, _sent, new_call, db = env
    synth = cg.render(cg.build_lines(cg.STANDARD_STEPS))
    definitions = [
        {"name": "Offered an alternative", "kind": "llm", "result_type": "boolean",
         "prompt": "Did the agent offer another appointment time?"},
        {"name": "Caller turns", "kind": "code", "result_type": "numeric",
         "code": 'metric["result"] = sum(1 for t in context["transcript"] if t["role"] == "User")',
         "pass_criteria": {"gte": 3}},
    ]
    ids = [metrics_service.create_metric(new_call.api, new_call.workspace_id,
                                         {"critical": False, "enabled": True, **d})["id"] for d in definitions]
    reasoning = "The agent offered Thursday afternoon, then Thursday at nine, when Tuesday did not suit."
    with FakeLLM(answers={"Offered an alternative": (True, reasoning)}) as llm, RecordingServer() as server:
        deps = replace(deps, judge=OpenAIJudge(llm.base_url, "", "m", 5, max_retries=0))
        call_id = new_call(call_identifier="harbor-dental-0042", transcript=stereo_transcript(synth),
                           recording_url=server.add("call.wav", cg.wav_bytes(synth)), metric_ids=ids,
                           metadata={"campaign": "rebooking", "crm_id": "C-1009"})
        for stage in (analyze.analyze_call, transcript.compute_transcript_metrics, judges.run_llm_judges,
                      recording.fetch_recording, audio.compute_audio_metrics, judges.run_code_judges,
                      finalize.finalize_call):
            stage(deps, call_id)
    status = db.execute("SELECT analysis_status, failure_message FROM calls WHERE id = %s", (call_id,)).fetchone()
    assert status["analysis_status"] == "computed", status
    db.commit()  # end the read's transaction: what the test writes next must be visible to the server
    return deps, call_id, db, new_call
