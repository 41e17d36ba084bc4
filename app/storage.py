"""Object storage for recordings: S3 (boto3, any S3-compatible endpoint) or a local directory.

Shared core, not worker code, because the web process presigns `recording_url` for GET
/calls/{id}. Keys are deterministic — `recordings/{workspace_id}/{call_id}/original.{ext}` — so a
re-run stage overwrites the same object instead of leaving a second copy.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode

from app.paths import API_PREFIX
from app.settings import Settings

KEY_PATTERN = re.compile(r"^(recordings/\d+/\d+/original\.(wav|mp3|m4a|flac|ogg|webm)"
                         r"|inbound/\d+/\d+/[A-Za-z0-9_-]{1,200}\.mp3)$")
PREFIX_PATTERN = re.compile(r"^recordings/\d+/\d+/$")
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def recording_key(workspace_id: int, call_id: int, ext: str) -> str:
    return f"{recording_prefix(workspace_id, call_id)}original.{ext}"


def recording_prefix(workspace_id: int, call_id: int) -> str:
    """Everything stored for one call lives under this prefix (the trailing slash keeps call 1
    from matching call 10)."""
    return f"recordings/{workspace_id}/{call_id}/"


def inbound_audio_key(workspace_id: int, integration_id: int, platform_call_id: str) -> str:
    """Where audio a platform sent inside its event waits for the call's analysis
    (docs/integrations.md#recordings): derived from the platform's call id, so a resent event
    overwrites its own object.

    One object per call id, never shared: an id of up to 200 ASCII letters, digits, `-` and `_`
    is the name itself; any other id (a `.`, a non-ASCII letter, a longer id) is cut to what is
    safe and followed by a digest of the whole id, so `conv.1` and `conv_1` keep apart."""
    if SAFE_ID.fullmatch(platform_call_id):
        return f"inbound/{workspace_id}/{integration_id}/{platform_call_id}.mp3"
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", platform_call_id)[:150]
    digest = hashlib.sha256(platform_call_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"inbound/{workspace_id}/{integration_id}/{safe}--{digest}.mp3"


class Storage(Protocol):
    def put_file(self, key: str, path: str, content_type: str) -> None: ...
    def get_file(self, key: str, path: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def presign(self, key: str, expires_in: int) -> str: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def delete_key(self, key: str) -> None: ...


class S3Storage:
    """Recordings in a bucket; multipart upload/download via boto3's transfer manager."""

    def __init__(self, client, bucket: str):
        self._s3 = client
        self._bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        import boto3
        from botocore.config import Config

        creds = {}
        if settings.s3_access_key_id:
            creds = {"aws_access_key_id": settings.s3_access_key_id,
                     "aws_secret_access_key": settings.s3_secret_access_key}
        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region,
            # path-style works with MinIO and other S3-compatible stores as well as AWS
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                          retries={"max_attempts": 5, "mode": "standard"},
                          connect_timeout=5, read_timeout=60),
            **creds,
        )
        return cls(client, settings.s3_bucket)

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_bucket(Bucket=self._bucket)
        except ClientError:
            self._s3.create_bucket(Bucket=self._bucket)

    def put_file(self, key: str, path: str, content_type: str) -> None:
        self._s3.upload_file(path, self._bucket, key, ExtraArgs={"ContentType": content_type})

    def get_file(self, key: str, path: str) -> None:
        self._s3.download_file(self._bucket, key, path)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=self._bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def presign(self, key: str, expires_in: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under a call's prefix; returns how many. Raises on store errors
        (and on objects the store refused to delete), so the caller keeps its erasure pending."""
        if not PREFIX_PATTERN.match(prefix):
            raise ValueError("not a recording prefix")
        deleted = 0
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if not keys:
                continue
            # at most 1000 keys per page, which is delete_objects' own limit
            answer = self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True})
            if answer.get("Errors"):
                raise OSError(f"the store refused to delete {len(answer['Errors'])} object(s)")
            deleted += len(keys)
        return deleted

    def delete_key(self, key: str) -> None:
        """Delete one object (absent is fine: S3 answers a missing key's deletion with success)."""
        if not KEY_PATTERN.match(key):
            raise ValueError("not a recording key")
        self._s3.delete_object(Bucket=self._bucket, Key=key)


class LocalStorage:
    """Recordings in a directory (single-machine default). Presigned URLs are HMAC-signed links
    served by the web process itself (GET /api/public/v1/recordings)."""

    def __init__(self, root: str, public_base_url: str, secret: str):
        self._root = Path(root).resolve()
        self._base = public_base_url
        self._secret = secret.encode()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStorage:
        return cls(settings.storage_dir, settings.public_base_url, settings.secret_key)

    def path_of(self, key: str) -> Path:
        if not KEY_PATTERN.match(key):
            raise ValueError("not a recording key")
        return self._root / key

    def put_file(self, key: str, path: str, content_type: str) -> None:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # copy to a temporary name, then rename: readers never see a half-written recording;
        # the name is unique per writer, so two deliveries of one stage never share it
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    def get_file(self, key: str, path: str) -> None:
        shutil.copyfile(self.path_of(key), path)

    def exists(self, key: str) -> bool:
        return self.path_of(key).is_file()

    def delete_prefix(self, prefix: str) -> int:
        """Delete the directory of a call's prefix; returns how many files it held."""
        if not PREFIX_PATTERN.match(prefix):
            raise ValueError("not a recording prefix")
        folder = self._root / prefix
        if not folder.is_dir():
            return 0
        count = sum(1 for path in folder.rglob("*") if path.is_file())
        shutil.rmtree(folder)
        return count

    def delete_key(self, key: str) -> None:
        """Delete one file (absent is fine)."""
        self.path_of(key).unlink(missing_ok=True)

    def _signature(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def presign(self, key: str, expires_in: int) -> str:
        expires = int(time.time()) + expires_in
        query = urlencode({"key": key, "expires": expires, "signature": self._signature(key, expires)})
        return f"{self._base}{API_PREFIX}/recordings?{query}"

    def signed_path(self, key: str, expires: str, signature: str) -> Path | None:
        """The file a presigned link names (it may be gone: erased), or None when the link is
        forged, expired or malformed. Any text is a possible signature, ASCII or not: it is
        compared as UTF-8 bytes (hmac.compare_digest raises TypeError on non-ASCII str)."""
        try:
            expires_at = int(expires)
        except (TypeError, ValueError):
            return None
        if not KEY_PATTERN.match(key or "") or expires_at < time.time():
            return None
        given = (signature or "").encode("utf-8", "replace")
        if not hmac.compare_digest(self._signature(key, expires_at).encode(), given):
            return None
        return self.path_of(key)


def make_storage(settings: Settings) -> Storage:
    """The storage backend named by CALLSCOPE_STORAGE."""
    if settings.storage == "s3":
        return S3Storage.from_settings(settings)
    return LocalStorage.from_settings(settings)
