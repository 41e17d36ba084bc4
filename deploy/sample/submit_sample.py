"""Serve the bundled sample recording on loopback, submit it with its transcript to the running
API, wait for the analysis and print it. Used by deploy/dev.sh; reads .callscope-dev/demo.json."""
from __future__ import annotations

import functools
import json
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_samples() -> ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(HERE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_ready(base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    sys.exit("the API did not become ready")


# A code metric the sample call runs (created once per demo workspace): it reads the standard
# latency result and passes under 1.5 s. An LLM metric joins it when CALLSCOPE_LLM_BASE_URL is set.
SAMPLE_METRIC = {
    "name": "Latency budget (sample)", "kind": "code", "result_type": "numeric", "critical": True,
    "pass_criteria": {"lte": 1500},
    "code": 'latency = context["standard_metrics"]["latency_ms"]\n'
            'metric["result"] = latency["average_ms"]\n'
            'metric["explanation"] = f"average {latency[\'average_ms\']} ms over {len(latency[\'turns\'])} answers"',
}


def sample_metric_id(base: str, headers: dict) -> int:
    url = f"{base}/api/public/v1/metrics"
    listed = requests.get(url, headers=headers, params={"per_page": 100}, timeout=10).json()["items"]
    existing = [m["id"] for m in listed if m["name"] == SAMPLE_METRIC["name"]]
    if existing:
        return existing[0]
    created = requests.post(url, json=SAMPLE_METRIC, headers=headers, timeout=10)
    created.raise_for_status()
    return created.json()["id"]


def main(demo_path: str) -> int:
    demo = json.loads(Path(demo_path).read_text())
    base, headers = demo["base_url"], {"Authorization": f"Bearer {demo['token']}"}
    wait_ready(base)
    server = serve_samples()
    sample = json.loads((HERE / "sample-call.json").read_text())
    body = {
        "call_identifier": f"sample-{int(time.time())}",
        "agent_id": demo["agent_id"],
        "client_id": demo["workspace_id"],
        "recording_url": f"http://127.0.0.1:{server.server_address[1]}/sample-call.wav",
        "transcript": sample["transcript"],
        "duration_seconds": sample["duration_seconds"],
        "call_end_reason": "completed",
        "label": "sample",
        "metadata": {"source": "deploy/dev.sh"},
        "metric_ids": [sample_metric_id(base, headers)],
    }
    accepted = requests.post(f"{base}/api/public/v1/calls", json=body, headers=headers, timeout=10)
    print(f"POST /calls → {accepted.status_code} {accepted.json()}")
    accepted.raise_for_status()
    # deploy/dev.sh points the newcomer's dashboard link at this call
    Path(demo_path).write_text(json.dumps({**demo, "sample_call_id": accepted.json()["id"]}, indent=2))
    url = base + accepted.headers["Location"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        call = requests.get(url, headers=headers, timeout=10).json()
        if call["analysis_status"] != "pending":
            break
        time.sleep(0.5)
    server.shutdown()
    print(f"\nGET {accepted.headers['Location']} → analysis_status={call['analysis_status']}"
          f" call_success={call['call_success']} recording={call.get('recording')}")
    for metric in call["standard_metrics"]:
        shown = metric["result_data"] if metric["status"] == "computed" else metric["error"]
        print(f"  {metric['metric_key']:<30} {metric['status']:<9} {json.dumps(shown)[:150]}")
    for metric in call["custom_metrics"]:
        shown = {"result": metric["result"], "passed": metric["passed"], "explanation": metric["explanation"]} \
            if metric["status"] == "computed" else metric["error"]
        print(f"  {metric['name']:<30} {metric['status']:<9} {json.dumps(shown)[:150]}")
    print(f"\nrecording_url (presigned, 1 h): {call['recording_url']}")
    return 0 if call["analysis_status"] == "computed" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
