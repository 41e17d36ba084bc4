"""Request plumbing shared by the views: deps, authentication, JSON bodies, schema loading."""
from __future__ import annotations

import functools
import json

from flask import current_app, request
from marshmallow import Schema, ValidationError

from app.api.schemas import flatten_messages
from app.errors import MalformedRequest, UnsupportedMediaType, ValidationFailed
from app.service.auth import authenticate
from app.service.deps import Deps

MAX_JSON_DEPTH = 64


def deps() -> Deps:
    return current_app.extensions["callscope"]


def authenticated(view):
    """Resolve the bearer token to a workspace id and pass it as the first argument."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        workspace_id = authenticate(deps(), request.headers.get("Authorization"))
        return view(workspace_id, *args, **kwargs)

    return wrapper


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _depth(value, limit: int) -> int:
    stack, deepest = [(value, 1)], 1
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _nul_path(value, path: str = "") -> str | None:
    """The dotted path of the first string (or key) holding a NUL character, if any: Postgres
    cannot store one in text or jsonb."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return where or "body"
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(item))
    return None


def _reject_nul(value) -> None:
    where = _nul_path(value)
    if where is not None:
        raise ValidationFailed(details={where: ["Must not contain the NUL character (\\u0000)."]})


def json_body() -> dict:
    """The request's JSON object. 415 for another media type, 400 for anything but an object
    (invalid UTF-8/JSON, NaN/Infinity, nesting deeper than 64), 413 via MAX_CONTENT_LENGTH."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType()
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedRequest(f"The body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise MalformedRequest()
    if _depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise MalformedRequest(f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
    _reject_nul(body)
    return body


def load(schema: Schema, data, partial: bool = False) -> dict:
    """Validate with a schema; 422 with per-field details on failure."""
    try:
        return schema.load(data, partial=partial)
    except ValidationError as exc:
        raise ValidationFailed(details=flatten_messages(exc.messages)) from None


def load_query(schema: Schema) -> dict:
    query = request.args.to_dict(flat=True)
    _reject_nul(query)
    return load(schema, query)
