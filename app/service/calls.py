"""Calls: submit (idempotent per workspace), read, list, annotate."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from app import catalogue, telemetry
from app.db import calls as calls_db
from app.db import custom_results as custom_db
from app.db import history as history_db
from app.db import metrics as metrics_db
from app.db import results as results_db
from app.db.pool import autocommit, one, transaction
from app.errors import Conflict, NotFound, ValidationFailed
from app.queue import ANALYZE_TASK
from app.service.deps import Deps
from app.status import NOT_APPLICABLE, PENDING

MAX_METADATA_BYTES = 64 * 1024


def submit_call(deps: Deps, workspace_id: int, data: dict) -> dict:
    """Store a call, its pending metric rows and its `calls.analyze` task in the outbox, in one
    committed statement; the relay publishes the task (docs/pipeline.md#the-outbox).

    Raises NotFound (client or agent not in the workspace), ValidationFailed (metric_ids),
    Conflict (call_identifier already used; details carry the existing id).
    """
    if data["client_id"] != workspace_id:
        raise NotFound("No such client_id.", details={"client_id": data["client_id"]})
    has_recording = bool(data.get("recording_url"))
    voice = data["observation_type"] == "voice"
    values = {
        **data,
        "workspace_id": workspace_id,
        "source_recording_url": data.get("recording_url"),
        "call_timestamp": data.get("call_timestamp") or datetime.now(UTC),
        "metadata": data.get("metadata") or {},
        "transcript_source": "provided" if data.get("transcript") else None,
        # the audio branch transcribes every voice recording (the generated transcript feeds
        # transcription_accuracy, and is the transcript of recording-only calls). Whether a
        # transcriber is configured is the worker's to know (docs/configuration.md#the-transcriber-belongs-to-the-worker):
        # with none, the audio stage moves this to not_applicable.
        "transcription_status": PENDING if has_recording and voice else NOT_APPLICABLE,
        "transcript_branch": PENDING if data.get("transcript") else NOT_APPLICABLE,
        # a text observation never runs audio work, even when a recording is attached
        "audio_branch": PENDING if (has_recording and voice) else NOT_APPLICABLE,
    }
    with autocommit(deps.pool) as conn:
        if data.get("metric_ids"):
            unknown = metrics_db.missing_metric_ids(conn, workspace_id, data["metric_ids"])
            if unknown:
                raise ValidationFailed(details={"metric_ids": [f"Unknown metric id(s): {unknown}."]})
        # one atomic statement: the call, its pending results, its history row and its task, or nothing
        inserted = calls_db.insert_call(conn, values, list(catalogue.STANDARD_KEYS), ANALYZE_TASK)
        if not inserted["agent_found"]:
            raise NotFound("No such agent.", details={"agent_id": data["agent_id"]})
        if inserted["call_id"] is None:
            existing = calls_db.call_id_by_identifier(conn, workspace_id, data["call_identifier"])
            raise Conflict(details={"id": existing, "call_identifier": data["call_identifier"]})
        call_id = inserted["call_id"]
    telemetry.CALLS_ACCEPTED.labels(data["observation_type"]).inc()
    deps.tasks_committed()
    return {"id": call_id, "call_identifier": data["call_identifier"], "analysis_status": PENDING}


def resolve_call_id(conn, workspace_id: int, ref: str) -> int:
    """`ref` is an internal id or a call_identifier: digits are tried as an id first."""
    if "\x00" in ref:
        raise NotFound("No such call.")  # no identifier can hold it: Postgres stores none
    if ref.isascii() and ref.isdigit() and len(ref) < 19:
        row = calls_db.get_call(conn, workspace_id, int(ref))
        if row:
            return row["id"]
    call_id = calls_db.call_id_by_identifier(conn, workspace_id, ref)
    if call_id is None:
        raise NotFound("No such call.")
    return call_id


def get_call(deps: Deps, workspace_id: int, ref: str) -> dict:
    """The full call view of docs/api.md#reading-a-call (presigned recording URL, transcript, results, history)."""
    with transaction(deps.pool) as conn:
        call_id = resolve_call_id(conn, workspace_id, ref)
        call = one(calls_db.get_call(conn, workspace_id, call_id))
        results = results_db.call_results(conn, call_id)
        custom = custom_db.call_custom_results(conn, call_id)
        history = history_db.call_history(conn, call_id)
    recording_url = None
    if call["recording_key"]:
        recording_url = deps.storage.presign(call["recording_key"], deps.settings.recording_url_ttl_seconds)
    return {**call, "recording_url": recording_url, "results": results, "custom_results": custom,
            "history": history}


def list_calls(deps: Deps, workspace_id: int, filters: dict, page: int, per_page: int) -> dict:
    with transaction(deps.pool) as conn:
        rows, total = calls_db.list_calls(conn, workspace_id, filters, per_page, (page - 1) * per_page)
    return {"items": rows, "page": page, "per_page": per_page, "total": total}


def update_call(deps: Deps, workspace_id: int, ref: str, changes: dict) -> dict:
    """Annotate a call. `metadata` merges: keys sent are set, keys sent as null are removed."""
    with transaction(deps.pool) as conn:
        call_id = resolve_call_id(conn, workspace_id, ref)
        call = one(calls_db.lock_call_annotations(conn, workspace_id, call_id))
        if "metadata" in changes:
            merged = dict(call["metadata"] or {})
            for key, value in (changes["metadata"] or {}).items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            if len(json.dumps(merged, separators=(",", ":"))) > MAX_METADATA_BYTES:
                raise ValidationFailed(details={"metadata": ["Merged metadata exceeds 64 KiB."]})
            changes = {**changes, "metadata": merged}
        calls_db.update_call_annotations(conn, call_id, changes)
    return {"id": call_id, "call_identifier": call["call_identifier"], "analysis_status": call["analysis_status"]}
