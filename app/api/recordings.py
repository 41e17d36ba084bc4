"""Serves recordings of the local storage backend through HMAC-signed, expiring links (the
local equivalent of an S3 presigned URL). The signature is the authorisation: a forged,
expired or malformed link is 403 (as S3 answers), a valid link to an erased recording 404."""
from __future__ import annotations

from flask import Blueprint, request, send_file

from app.api.request import deps
from app.errors import Forbidden, NotFound
from app.storage import LocalStorage

bp = Blueprint("recordings", __name__)
_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "m4a": "audio/mp4", "flac": "audio/flac",
          "ogg": "audio/ogg", "webm": "audio/webm"}


@bp.get("/recordings")
def download_recording():
    storage = deps().storage
    if not isinstance(storage, LocalStorage):
        raise NotFound()
    args = request.args
    path = storage.signed_path(args.get("key", ""), args.get("expires", ""), args.get("signature", ""))
    if path is None:
        raise Forbidden("The link is invalid or has expired.")
    if not path.is_file():
        raise NotFound("The recording no longer exists.")
    return send_file(path, mimetype=_TYPES.get(path.suffix.lstrip("."), "application/octet-stream"),
                     conditional=True)
