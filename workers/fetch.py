"""Safe streaming download of user-given recording URLs (docs/pipeline.md#fetching-a-recording).

The SSRF guard: every hop's URL is parsed by the API's own rule (app/urls.py), its port must be
allowed and its host is resolved once; *every* answer must be allowed (public unicast by the
table of workers/addresses.py, or inside the configured networks), and the connection is made to exactly
the address that was checked — the hostname is kept for the Host header and TLS SNI, so there is
no second DNS lookup to rebind. Redirects are followed by hand, each re-checked. Proxy variables
are ignored and no connection is reused across hops.

Resolution and dialling are injectable (`Resolver`, `Dialer`) so tests observe what would have
been dialled without any packet leaving loopback.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

from app.urls import BadURL, parse_recording_url, redirect_target
from workers.addresses import AddressPolicy
from workers.failure import StageFailure

Resolver = Callable[[str, int], list[str]]
Dialer = Callable[[tuple[str, int], float | None], socket.socket]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 600.0
    max_redirects: int = 3
    max_bytes: int = 200 * 1024 * 1024


@dataclass(frozen=True)
class Downloaded:
    bytes: int
    content_type: str
    final_url: str


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def system_dialer(address: tuple[str, int], timeout: float | None) -> socket.socket:
    return socket.create_connection(address, timeout=timeout)


def _pinned_pools(ip: str, dial: Dialer) -> dict:
    """Connection pools whose connections go to `ip` whatever the URL's host says."""

    def new_conn(conn) -> socket.socket:
        try:
            sock = dial((ip, conn.port), conn.timeout)
        except TimeoutError as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc
        return sock

    class PinnedHTTPConnection(HTTPConnection):
        def _new_conn(self):
            return new_conn(self)

    class PinnedHTTPSConnection(HTTPSConnection):
        def _new_conn(self):
            return new_conn(self)

    class PinnedHTTPPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTPConnection

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedHTTPPool, "https": PinnedHTTPSPool}


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, ip: str, dial: Dialer):
        self._ip, self._dial = ip, dial
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        self.poolmanager = PoolManager(num_pools=1, maxsize=1, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pinned_pools(self._ip, self._dial)


class Downloader:
    """Downloads one URL into a local file within the limits; raises StageFailure."""

    def __init__(self, policy: AddressPolicy, limits: FetchLimits,
                 resolver: Resolver = system_resolver, dialer: Dialer = system_dialer):
        self.policy, self.limits, self._resolve, self._dial = policy, limits, resolver, dialer

    def checked_address(self, url: str) -> tuple[str, int]:
        """(ip, port) the URL may be fetched from. StageFailure `recording_unreachable` for a
        URL that cannot be parsed or resolved, `recording_forbidden_address` for a port or any
        resolved address the policy refuses."""
        try:
            target = parse_recording_url(url)
        except BadURL as exc:
            raise StageFailure("recording_unreachable", str(exc)) from None
        host, port = target.host, target.port
        if not self.policy.allows_port(port):
            raise StageFailure("recording_forbidden_address", f"Port {port} may not be fetched "
                               f"(allowed: {', '.join(map(str, sorted(self.policy.ports or ())))}).")
        try:
            answers, literal = [ipaddress.ip_address(host)], True
        except ValueError:
            try:
                answers, literal = [ipaddress.ip_address(a.split("%")[0]) for a in self._resolve(host, port)], False
            except (OSError, UnicodeError, ValueError) as exc:
                raise StageFailure("recording_unreachable", f"The host {host!r} did not resolve: {exc}", transient=True) from None
        if not answers:
            raise StageFailure("recording_unreachable", f"The host {host!r} did not resolve.", transient=True)
        reasons = [reason for reason in map(self.policy.refusal, answers) if reason]
        if reasons:
            # what a name resolves to inside our network is not the submitter's business
            detail = (f"is an address that may not be fetched ({reasons[0]})" if literal
                      else "resolves to an address that may not be fetched")
            raise StageFailure("recording_forbidden_address", f"The host {host!r} {detail}.")
        return str(answers[0]), port

    def download(self, url: str, destination: str, headers: Mapping[str, str] | None = None) -> Downloaded:
        """Stream `url` into the file `destination`, following ≤ max_redirects checked redirects.
        `headers` (a platform API's Authorization) go to the first hop only: a redirect points
        at a signed URL on another host, which must not see the credential."""
        deadline = time.monotonic() + self.limits.total_timeout
        extra = dict(headers or {})
        for _ in range(self.limits.max_redirects + 1):
            ip, _port = self.checked_address(url)
            with requests.Session() as session:
                session.trust_env = False  # never route through proxies from the environment
                adapter = _PinnedAdapter(ip, self._dial)
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                try:
                    response = session.get(
                        url, stream=True, allow_redirects=False,
                        timeout=(self.limits.connect_timeout, self.limits.read_timeout),
                        headers={"User-Agent": "callscope-fetch/1", "Accept-Encoding": "identity", **extra},
                    )
                    with response:
                        location = response.headers.get("Location")
                        if response.is_redirect and location:
                            url, extra = self._redirect(url, location), {}
                            continue
                        self._check_status(response.status_code)
                        return self._stream_body(response, url, destination, deadline)
                except (requests.RequestException, HTTPError, OSError) as exc:
                    raise StageFailure("recording_unreachable", f"Download failed: {type(exc).__name__}", transient=True) from exc
        raise StageFailure("recording_unreachable", f"More than {self.limits.max_redirects} redirects.")

    @staticmethod
    def _redirect(url: str, location: str) -> str:
        try:
            return redirect_target(url, location).url
        except BadURL as exc:
            raise StageFailure("recording_unreachable", f"Bad redirect: {exc}") from None

    @staticmethod
    def _check_status(status: int) -> None:
        if status in (408, 425, 429) or status >= 500:
            raise StageFailure("recording_unreachable", f"The recording server answered {status}.", transient=True)
        if status >= 300:
            raise StageFailure("recording_unreachable", f"The recording server answered {status}.")

    def _stream_body(self, response: requests.Response, url: str, destination: str, deadline: float) -> Downloaded:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.limits.max_bytes:
            raise StageFailure("recording_too_large", f"The recording declares {declared} bytes.")
        written = 0
        with open(destination, "wb") as out:
            # read1 returns whatever has arrived (≤ _CHUNK) instead of waiting for a full chunk,
            # so the deadline is checked even against a server that drips one byte at a time
            while chunk := response.raw.read1(_CHUNK, decode_content=False):
                written += len(chunk)
                if written > self.limits.max_bytes:
                    raise StageFailure("recording_too_large",
                                      f"The recording exceeds {self.limits.max_bytes} bytes.")
                if time.monotonic() > deadline:
                    raise StageFailure("recording_unreachable", "The download exceeded its time limit.", transient=True)
                out.write(chunk)
        if written == 0:
            raise StageFailure("undecodable_audio", "The recording is empty.")
        return Downloaded(written, response.headers.get("Content-Type", ""), url)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST `body` to `url` under the same address policy (outbound webhooks); the status
        code. Redirects are not followed (a 3xx is the answer). Raises StageFailure: a refused
        address (permanent), a connect/read failure or timeout (transient)."""
        ip, _port = self.checked_address(url)
        with requests.Session() as session:
            session.trust_env = False
            adapter = _PinnedAdapter(ip, self._dial)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            try:
                response = session.post(url, data=body, allow_redirects=False, stream=True,
                                         timeout=(self.limits.connect_timeout, self.limits.read_timeout),
                                         headers={"User-Agent": "callscope-webhooks/1", **headers})
                with response:
                    response.raw.read(_CHUNK, decode_content=False)  # a bounded look at the answer
                    return response.status_code
            except (requests.RequestException, HTTPError, OSError) as exc:
                raise StageFailure("recording_unreachable", f"POST failed: {type(exc).__name__}", transient=True) from exc
