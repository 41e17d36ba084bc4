"""Recording URLs: the one syntax check the API and the downloader share
(docs/pipeline.md#the-address-policy).

The API refuses with 422 what this refuses, so a URL that cannot be fetched never becomes an
accepted call; the downloader runs the same check on every hop (a redirect's Location is as
untrusted as the submitted URL) and turns a refusal into `recording_unreachable`. The standard
library's parser raises ValueError on some inputs (`http://[::1/`, or a host that changes
under NFKC normalisation such as `8.8.8.8℀`): every such error is a BadURL here.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

MAX_URL_LENGTH = 2048
_HOSTNAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?$")
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")  # controls, spaces, backslashes


class BadURL(ValueError):
    """The URL cannot be fetched as given; the message says why (shown to the user)."""


@dataclass(frozen=True)
class RecordingURL:
    url: str
    scheme: str        # http | https
    host: str          # an IP literal (no brackets) or an ASCII (IDNA) host name, lower case
    port: int


def parse_recording_url(url: str) -> RecordingURL:
    """The parts of an http(s) URL the downloader may fetch; raises BadURL saying why not."""
    if not isinstance(url, str) or not url:
        raise BadURL("The URL is empty.")
    if len(url) > MAX_URL_LENGTH:
        raise BadURL(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if _FORBIDDEN_CHARACTERS.search(url):
        raise BadURL("The URL contains spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise BadURL(f"The URL cannot be parsed: {exc}.") from None
    if parts.scheme not in ("http", "https"):
        raise BadURL(f"Unsupported URL scheme {parts.scheme!r}; use http or https.")
    if "@" in parts.netloc:
        raise BadURL("URLs with credentials are not fetched.")
    if not hostname:
        raise BadURL("The URL has no host.")
    if port == 0:
        raise BadURL("The URL's port is invalid.")
    return RecordingURL(url, parts.scheme, _host(hostname), port or (443 if parts.scheme == "https" else 80))


def redirect_target(url: str, location: str) -> RecordingURL:
    """Where a redirect from `url` to `location` leads, checked like a submitted URL."""
    try:
        target = urljoin(url, location)
    except ValueError as exc:
        raise BadURL(f"The redirect target cannot be parsed: {exc}.") from None
    return parse_recording_url(target)


def _host(hostname: str) -> str:
    if "%" in hostname:
        raise BadURL("IPv6 zone identifiers are not fetched.")
    try:
        return str(ipaddress.ip_address(hostname))
    except ValueError:
        pass
    try:
        ascii_name = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise BadURL(f"The host {hostname!r} is not a valid host name.") from None
    if len(ascii_name) > 253 or not _HOSTNAME.match(ascii_name):
        raise BadURL(f"The host {hostname!r} is not a valid host name.")
    return ascii_name
