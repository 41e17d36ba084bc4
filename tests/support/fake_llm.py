"""A local OpenAI-compatible chat-completions server for tests and benchmarks (real HTTP on
loopback). It answers every metric it is asked about from `answers` ({metric name: (result,
explanation)}), and can be told to misbehave: refuse structured batches, return malformed or
mistyped answers, answer 429/500, or stall.

    with FakeLLM(answers={"Polite": (True, "said please")}) as llm:
        llm.base_url  # http://127.0.0.1:PORT/v1
        llm.requests  # every request body received
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from workers.judges.prompt import METRICS_HEADER


class FakeLLM:
    def __init__(self, answers: dict | None = None, refuse_structured: bool = False, status_sequence=(),
                 malformed: int = 0, wrong_type: int = 0, delay: float = 0.0, retry_after: str | None = "0"):
        self.answers = answers or {}
        self.refuse_structured = refuse_structured
        self.status_sequence = list(status_sequence)  # statuses to answer first, one per request
        self.malformed = malformed    # the next N answers are not JSON
        self.wrong_type = wrong_type  # the next N answers put a string where the result goes
        self.delay = delay
        self.retry_after = retry_after
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply(self, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(body)
            if self.status_sequence:
                return self.status_sequence.pop(0), {"error": {"message": "scripted failure"}}
            if self.refuse_structured and "response_format" in body:
                return 400, {"error": {"message": "response_format json_schema is not supported"}}
            malformed = self.malformed > 0
            wrong = not malformed and self.wrong_type > 0
            self.malformed -= malformed
            self.wrong_type -= wrong
        text = body["messages"][-1]["content"]
        listed = json.loads(text.split(METRICS_HEADER + "\n", 1)[1].split("\n", 1)[0])["metrics"]
        answer = {}
        for metric in listed:
            result, explanation = self.answers.get(metric["name"], (None, "no scripted answer"))
            answer[metric["key"]] = {"result": "definitely" if wrong else result, "explanation": explanation}
        content = "this is not json {" if malformed else json.dumps(answer)
        prompt_tokens = len(text) // 4
        return 200, {"id": "fake", "object": "chat.completion", "model": body.get("model"),
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}],
                     "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 20,
                               "total_tokens": prompt_tokens + 20}}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                if self.path != "/v1/chat/completions":
                    status, payload = 404, {"error": {"message": "not found"}}
                else:
                    status, payload = fake._reply(body)
                if fake.delay:
                    time.sleep(fake.delay)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429 and fake.retry_after is not None:
                    self.send_header("Retry-After", fake.retry_after)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler
