"""A local webhook receiver (127.0.0.1) that checks every delivery with the reference
`standardwebhooks` library. Paths: /ok, /fail/<n> (503 for the first n deliveries of each
webhook-id, then 204), /never (holds the request longer than any read timeout)."""
from __future__ import annotations

import json
import time

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.http_server import LoopbackServer, Replies


class WebhookReceiver(LoopbackServer):
    def __init__(self):
        self.secrets: list[str] = []  # any of them verifies (a rotation in progress)
        self.received: list[dict] = []  # {path, id, verified, payload}
        receiver = self

        class Handler(Replies):
            def do_POST(self):  # noqa: N802 (http.server names its handlers so)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = any(receiver.verifies(secret, body, headers) for secret in receiver.secrets)
                entry = {"path": self.path, "id": headers.get("webhook-id"), "verified": verified,
                         "signatures": headers.get("webhook-signature", "").split(" "),
                         "payload": json.loads(body or b"null"), "body": body, "headers": headers}
                receiver.received.append(entry)
                if self.path == "/never":
                    time.sleep(3)
                    return self._send(204)
                if self.path.startswith("/fail/"):
                    failures = int(self.path.rsplit("/", 1)[1])
                    seen = sum(1 for e in receiver.received if e["id"] == entry["id"])
                    return self._send(503 if seen <= failures else 204)
                return self._send(204 if verified else 400)

        self._serve(Handler)

    @staticmethod
    def verifies(secret: str, body: bytes, headers: dict) -> bool:
        try:
            Webhook(secret).verify(body, headers)
            return True
        except WebhookVerificationError:
            return False
