"""The one place exceptions become HTTP responses. Every error has one body (docs/api.md#errors)."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app import errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR = {
    errors.MalformedRequest: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.ValidationFailed: 422,
    errors.RateLimited: 429,
    errors.ServiceUnavailable: 503,
    errors.StorageUnavailable: 503,
}

# Werkzeug's own errors (unknown route, wrong method, …) get our shape and a snake_case code.
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
               415: "unsupported_media_type", 429: "rate_limited"}


def error_response(status: int, code: str, message: str, details: dict | None = None, headers=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="callscope"'
    if status == 503:
        response.headers["Retry-After"] = "5"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(errors.CallscopeError)
    def _domain(exc: errors.CallscopeError):
        status = next((s for cls, s in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 500)
        headers = {"Retry-After": str(exc.details["retry_after_seconds"])} if status == 429 else None
        return error_response(status, exc.code, exc.message, exc.details, headers=headers)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc):
        return error_response(413, "payload_too_large", "The request body is too large.")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = _HTTP_CODES.get(exc.code or 500, "http_error")
        allowed = getattr(exc, "valid_methods", None)  # only MethodNotAllowed carries it
        headers = {"Allow": ", ".join(allowed)} if allowed else None
        return error_response(exc.code or 500, code, exc.description or code, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "An unexpected error occurred.")
