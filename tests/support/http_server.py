"""A local HTTP server (127.0.0.1 only) serving recordings and misbehaviours to the downloader."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # clients that vanish mid-request (killed workers, timeouts) are the point of some tests


class Replies(BaseHTTPRequestHandler):
    """A quiet request handler with one way to answer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 at a free port, serving one handler class; a context
    manager that starts it on entry and stops it on exit. The stand-ins below build on it."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class RecordingServer(LoopbackServer):
    """Routes: /files/<name> (registered bytes), /slowfiles/<name> (the same after slow_seconds),
    /flaky/<name> (503 while flaky[name] > 0, counting it down, then the bytes),
    /status/<code>, /redirect/<n>/<name> (n hops),
    /loop, /to?url=<absolute> (one redirect), /slow (stalls), /chunked/<name> (no Content-Length)."""

    def __init__(self):
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[str, str]] = []  # (path, Host header)
        self.slow_seconds = 1.0
        self.flaky: dict[str, int] = {}  # name → how many more requests of /flaky/<name> fail
        # path → called with the client's (host, port) before answering (fault injection)
        self.hooks: dict[str, callable] = {}
        server = self

        class Handler(Replies):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Host", "")))
                if self.path in server.hooks:
                    server.hooks[self.path](self.client_address)
                parts = self.path.split("?")[0].strip("/").split("/")
                route = parts[0]
                if route == "files" and parts[1] in server.files:
                    body, ctype = server.files[parts[1]]
                    return self._send(200, body, ctype)
                if route == "slowfiles" and parts[1] in server.files:
                    time.sleep(server.slow_seconds)
                    body, ctype = server.files[parts[1]]
                    return self._send(200, body, ctype)
                if route == "flaky" and parts[1] in server.files:
                    if server.flaky.get(parts[1], 0) > 0:
                        server.flaky[parts[1]] -= 1
                        return self._send(503, b"busy", "text/plain")
                    body, ctype = server.files[parts[1]]
                    return self._send(200, body, ctype)
                if route == "chunked" and parts[1] in server.files:
                    return self._chunked(server.files[parts[1]][0])
                if route == "status":
                    return self._send(int(parts[1]), b"nope", "text/plain")
                if route == "redirect":
                    hops = int(parts[1])
                    target = f"/redirect/{hops - 1}/{parts[2]}" if hops > 1 else f"/files/{parts[2]}"
                    return self._redirect(target)
                if route == "loop":
                    return self._redirect("/loop")
                if route == "to":
                    return self._redirect(self.path.split("url=", 1)[1])
                if route == "drip":  # one byte every 0.2 s, forever (until the client gives up)
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/wav")
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    for _ in range(10_000):
                        self.wfile.write(b"R")
                        self.wfile.flush()
                        time.sleep(0.2)
                    return None
                if route == "liar":  # declares more than it sends, then hangs up
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/wav")
                    self.send_header("Content-Length", "500000")
                    self.end_headers()
                    self.wfile.write(b"RIFF" + b"\0" * 1000)
                    self.close_connection = True
                    return None
                if route == "endless":  # an unbounded chunked body (a "2 GB" recording)
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/wav")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"\0" * 65536
                    for _ in range(40_000):  # 2.6 GB at most; the client stops long before
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    return None
                if route == "slow":
                    time.sleep(5)
                    return self._send(200, b"late", "text/plain")
                return self._send(404, b"not found", "text/plain")

            def _redirect(self, location):
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _chunked(self, body):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(body), 4096):
                    chunk = body[i:i + 4096]
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

        self._serve(Handler)

    def add(self, name: str, body: bytes, content_type: str = "audio/wav") -> str:
        self.files[name] = (body, content_type)
        return self.url(f"/files/{name}")
