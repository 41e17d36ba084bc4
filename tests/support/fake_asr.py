"""A local OpenAI-compatible `/audio/transcriptions` server for tests (real HTTP on loopback).
It answers every channel with the same two timed words, or with `status` (an outage: 503, a
bad key: 401…); `status` may be changed while it runs (the provider comes back).

    with FakeTranscriptionServer(status=503) as asr:
        asr.base_url   # http://127.0.0.1:PORT/v1
        asr.requests   # (path, Authorization header, body) of every request received
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = [{"word": "hello", "start": 0.5, "end": 0.9}, {"word": "there", "start": 1.0, "end": 1.3}]


class FakeTranscriptionServer:
    def __init__(self, status: int = 200):
        self.status, self.requests = status, []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests.append((self.path, self.headers.get("Authorization"), body))
                ok = fake.status == 200
                payload = json.dumps({"text": "hello there", "words": WORDS} if ok
                                     else {"error": {"message": "scripted failure"}}).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeTranscriptionServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
