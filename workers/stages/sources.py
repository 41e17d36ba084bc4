"""Where a call's recording comes from (docs/integrations.md#recordings): a URL (POST /calls,
Retell's signed URLs), Vapi's authenticated API, or audio a platform sent in its event and we
stored. Every URL and every redirect goes through the downloader's address policy."""
from __future__ import annotations

from urllib.parse import quote

from app.db import integrations as integrations_db
from app.db.pipeline import CallRow
from app.db.pool import transaction
from app.secretbox import SecretBox
from workers.context import WorkerDeps
from workers.failure import StageFailure


def obtain_recording(deps: WorkerDeps, call: CallRow, path: str) -> None:
    """Put the call's recording in the file `path`. Raises StageFailure (the downloader's codes;
    `recording_unreachable`, transient, while a platform's audio has not arrived yet)."""
    source = call.get("recording_source") or {"kind": "url", "url": call["source_recording_url"]}
    kind = source.get("kind")
    if kind == "stored":
        _copy_stored(deps, source["key"], path)
    elif kind == "vapi":
        api_key = _platform_api_key(deps, source.get("integration_id"))
        if api_key:
            # Vapi's storage is private: its API answers with a redirect to a short-lived signed URL
            url = f"{deps.settings.vapi_api_url}/call/{quote(source['call_id'], safe='')}/stereo-recording"
            deps.downloader.download(url, path, headers={"Authorization": f"Bearer {api_key}"})
        else:
            deps.downloader.download(source.get("url") or "", path)
    else:
        deps.downloader.download(source.get("url") or "", path)


def _copy_stored(deps: WorkerDeps, key: str, path: str) -> None:
    try:
        present = deps.storage.exists(key)
        if present:
            deps.storage.get_file(key, path)
    except Exception as exc:  # boto3/OS errors: the store may be back on the next try
        raise StageFailure("storage_unavailable", f"Reading the stored audio failed: {type(exc).__name__}",
                           transient=True) from exc
    if not present:
        # ElevenLabs sends the audio in its own event, which may come after the transcript's
        raise StageFailure("recording_unreachable", "The platform's audio event has not arrived.", transient=True)


def _platform_api_key(deps: WorkerDeps, integration_id: int | None) -> str | None:
    if integration_id is None:
        return None
    with transaction(deps.pool) as conn:
        integration = integrations_db.get_integration(conn, None, integration_id)
    if integration is None or not integration["api_key"]:
        return None
    return SecretBox.from_settings(deps.settings).open(integration["api_key"])
