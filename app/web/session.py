"""Browser sessions and CSRF protection of the dashboard (docs/dashboard.md#sign-in).

The session cookie carries a random token; Postgres keeps only its digest, so signing out (or a
password reset) ends the session everywhere. The cookie is HttpOnly, SameSite=Lax, scoped to
the dashboard's path, and Secure whenever the request came over HTTPS or the public base URL
is https.

CSRF: every POST carries a `csrf_token` form field. Signed in, it must equal the token stored
with the session (a synchroniser token: one per session, compared in constant time). Before
signing in (the sign-in and set-password forms) it must equal a random `callscope_csrf` cookie
(double submit), which a cross-site page can neither read nor set. Our own small check rather
than Flask-WTF: three comparisons do not need a forms framework, and it works the same for
every form.
"""
from __future__ import annotations

import functools
import hmac
import secrets
from urllib.parse import quote

from flask import g, redirect, request, url_for
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from app.paths import DASHBOARD_PREFIX
from app.service.deps import Deps
from app.service.users import SESSION_LIFETIME, SignedIn, session_user

SESSION_COOKIE = "callscope_session"
CSRF_COOKIE = "callscope_csrf"


def load_user(deps: Deps) -> None:
    """Put the signed-in user (or None) on `g` for this request."""
    g.user = session_user(deps, request.cookies.get(SESSION_COOKIE))


def current_user() -> SignedIn:
    return g.user


def _secure(deps: Deps) -> bool:
    return request.is_secure or deps.settings.public_base_url.startswith("https://")


def set_session_cookie(response: Response, deps: Deps, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()), path=DASHBOARD_PREFIX,
                        httponly=True, samesite="Lax", secure=_secure(deps))


def clear_session_cookie(response: Response, deps: Deps) -> None:
    response.delete_cookie(SESSION_COOKIE, path=DASHBOARD_PREFIX, httponly=True, samesite="Lax", secure=_secure(deps))


def pre_session_token() -> str:
    """The double-submit token of the forms shown before sign-in (the cookie's, or a new one
    that `remember_pre_session_token` sets on the response)."""
    if "pre_csrf" not in g:
        g.pre_csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    return g.pre_csrf


def remember_pre_session_token(response: Response, deps: Deps) -> None:
    if "pre_csrf" in g and request.cookies.get(CSRF_COOKIE) != g.pre_csrf:
        response.set_cookie(CSRF_COOKIE, g.pre_csrf, path=DASHBOARD_PREFIX, httponly=True,
                            samesite="Strict", secure=_secure(deps))


def csrf_token() -> str:
    """The token forms on this page must carry."""
    return g.user.csrf_token if g.get("user") else pre_session_token()


def check_csrf(public_form: bool) -> None:
    """Refuse (403) a POST whose form token is missing or wrong."""
    sent = request.form.get("csrf_token", "")
    if public_form or g.user is None:
        expected = request.cookies.get(CSRF_COOKIE, "")
    else:
        expected = g.user.csrf_token
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("The form expired or did not come from this site. Reload the page and try again.")


def public(view):
    """A page that needs no sign-in (its form posts are checked against the CSRF cookie)."""
    view.dashboard_public = True
    return view


def signed_in(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.user is None:
            target = request.full_path if request.method == "GET" else url_for("dashboard.calls")
            return redirect(url_for("dashboard.sign_in") + "?next=" + quote(target.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None) -> str:
    """Only a path inside the dashboard may follow sign-in (no open redirect)."""
    if target and target.startswith(DASHBOARD_PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("dashboard.calls")
