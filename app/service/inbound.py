"""Platform events in: verify, map, store, enqueue (docs/integrations.md#the-events-endpoint).

The order is the contract: the signature is checked on the raw bytes before anything is parsed;
a replayed signature is refused in the same transaction that stores the call, so a request that
is refused stores nothing and one that fails half-way leaves no trace of its signature. The
endpoint only stores: every download is the workers' (the platforms time out in seconds).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from app import catalogue
from app.db import agents as agents_db
from app.db import calls as calls_db
from app.db import integrations as integrations_db
from app.db import outbox as outbox_db
from app.db import runs as runs_db
from app.db.pool import Conn, transaction
from app.errors import MalformedRequest, NotFound, ServiceUnavailable, ValidationFailed
from app.platforms import elevenlabs, retell, signatures, vapi
from app.platforms.mapped import PlatformEvent, UnusableEvent
from app.queue import ANALYZE_TASK
from app.secretbox import SecretBox
from app.service.deps import Deps
from app.status import NOT_APPLICABLE, PENDING
from app.storage import inbound_audio_key

MAPPERS = {"vapi": vapi.map_event, "retell": retell.map_event, "elevenlabs": elevenlabs.map_event}
MAX_TURNS = 5000


def receive_event(deps: Deps, integration_id: int, headers: Mapping[str, str], body: bytes) -> dict:
    """Raises NotFound (no such integration), BadSignature (401), MalformedRequest (not JSON),
    ValidationFailed (signed but unusable: no call id, no agent for it)."""
    with transaction(deps.pool) as conn:
        integration = integrations_db.get_integration(conn, None, integration_id)
    if integration is None:
        raise NotFound("No such integration.")
    secret = SecretBox.from_settings(deps.settings).open(integration["signing_secret"])
    lowered = {name.lower(): value for name, value in headers.items()}  # header names are case-insensitive
    digest = signatures.verify(integration["platform"], secret, lowered, body, time.time())
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedRequest("The event is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise MalformedRequest()
    try:
        event = MAPPERS[integration["platform"]](payload)
    except UnusableEvent as exc:
        raise ValidationFailed(str(exc), details={"body": [str(exc)]}) from None
    with transaction(deps.pool) as conn:
        keep = signatures.TOLERANCE_SECONDS[integration["platform"]] * 2
        if digest and not integrations_db.remember_signature(conn, integration_id, digest, keep):
            raise signatures.BadSignature("This signed request was already received (a replay).")
        if event.audio is not None:
            _store_audio(deps, integration, event)
        if event.call is None:
            answer = _audio_arrived(conn, integration, event) if event.audio is not None else {
                "status": "ignored", "call_id": None, "call_identifier": event.call_id}
        else:
            answer = _store_call(conn, integration, event)
        if answer.pop("analyse", False) and isinstance(answer["call_id"], int):
            # a new run of a call we had: its task, committed with it
            outbox_db.add_task(conn, ANALYZE_TASK, answer["call_id"])
    deps.tasks_committed()  # a wake-up only: when nothing was queued the relay finds nothing
    return answer


def _audio_arrived(conn: Conn, integration: dict, event: PlatformEvent) -> dict:
    """ElevenLabs' audio, stored. A call that is waiting for it reads it when its fetch retries;
    one that was finished without it (the audio came after the retries) is analysed again."""
    call_id = calls_db.call_id_by_identifier(conn, integration["workspace_id"], event.call_id or "")
    rerun = call_id is not None and _rerun_for_recording(conn, call_id)
    return {"status": "stored", "call_id": call_id, "call_identifier": event.call_id, "analyse": rerun}


def _rerun_for_recording(conn: Conn, call_id: int, source: dict | None = None) -> bool:
    """A finished call gets a new run (the earlier one stays readable) for a recording it was
    analysed without: a later event's (`source`) when its first event had none, or the audio
    of an event that came after the call's fetch gave up. A call still being analysed is left
    alone: its run already decided whether it has a recording."""
    state = calls_db.recording_state(conn, call_id)
    if state is None or state["recording_key"] is not None or state["analysis_status"] == PENDING:
        return False
    if source is not None:
        if state["recording_source"] is not None:
            return False  # it had one (a duplicate event, or a fetch that failed for its own reason)
        calls_db.set_recording_source(conn, call_id, source, source.get("url") or f"recording:{call_id}")
    elif (state["recording_source"] or {}).get("kind") != "stored":
        return False
    return runs_db.reset_for_reanalysis(conn, state["workspace_id"], call_id, {}) == "reset"


def _store_audio(deps: Deps, integration: dict, event: PlatformEvent) -> None:
    """The audio sent in the event, under the key the call's analysis will read it from."""
    key = inbound_audio_key(integration["workspace_id"], integration["id"], event.call_id or "")
    with tempfile.TemporaryDirectory(prefix="callscope-event-") as workdir:
        path = os.path.join(workdir, "audio.mp3")
        with open(path, "wb") as out:
            out.write(event.audio or b"")
        try:
            deps.storage.put_file(key, path, "audio/mpeg")
        except Exception as exc:  # boto3/OS errors: the platform retries a 503
            raise ServiceUnavailable("The audio could not be stored; retry later.", code="storage_unavailable") from exc


def _agent_for(conn: Conn, integration: dict, event: PlatformEvent) -> int:
    """The explicit map first, then a new agent (auto-create, mapped at once), then the
    integration's default. ValidationFailed when none applies."""
    platform_agent = event.platform_agent_id
    mapped = (integration["agent_map"] or {}).get(platform_agent or "")
    if mapped is not None and integrations_db.live_agent_ids(conn, integration["workspace_id"], [int(mapped)]):
        return int(mapped)
    if platform_agent and integration["auto_create_agents"]:
        locked = integrations_db.get_integration(conn, None, integration["id"], for_update=True) or integration
        mapped = locked["agent_map"].get(platform_agent)  # a concurrent event may have created it
        if mapped is not None:
            return int(mapped)
        name = f"{integration['platform']} {event.platform_agent_name or platform_agent}"[:255]
        agent = agents_db.insert_agent(conn, integration["workspace_id"], {"name": name, "ai_channel": "auto"})
        integrations_db.map_agent(conn, integration["id"], platform_agent, agent["id"])
        return agent["id"]
    if integration["default_agent_id"] is not None:
        return integration["default_agent_id"]
    raise ValidationFailed(f"Platform agent {platform_agent!r} is not mapped to an agent.",
                           details={"agent_id": [f"Map platform agent {platform_agent!r} in the integration."]},
                           code="unmapped_agent")


def _recording_source(integration: dict, event: PlatformEvent) -> dict | None:
    if not integration["fetch_recordings"] or event.recording is None:
        return None
    source = {**event.recording, "integration_id": integration["id"]}
    if source["kind"] == "stored":
        source["key"] = inbound_audio_key(integration["workspace_id"], integration["id"], event.call_id or "")
    return source


def _platform_metadata(event: PlatformEvent, source: dict | None) -> dict:
    data = {"name": event.platform, "agent_id": event.platform_agent_id, "events": [event.event_type],
            **event.platform_data}
    if source and source.get("mono"):
        data["recording"] = "mono_fallback"  # no per-party channels: audio metrics are degraded
    return {k: v for k, v in data.items() if v is not None}


def _store_call(conn: Conn, integration: dict, event: PlatformEvent) -> dict:
    fields = event.call or {}
    workspace_id = integration["workspace_id"]
    existing = calls_db.call_id_by_identifier(conn, workspace_id, event.call_id or "")
    if existing is not None:
        return _merge(conn, integration, existing, event)
    source = _recording_source(integration, event)
    transcript = (fields.get("transcript") or [])[:MAX_TURNS] or None
    values = {
        "workspace_id": workspace_id,
        "agent_id": _agent_for(conn, integration, event),
        "call_identifier": event.call_id,
        "observation_type": "voice",
        "call_direction": fields.get("call_direction") or "inbound",
        "call_end_reason": (fields.get("call_end_reason") or "")[:255] or None,
        "customer_number": (fields.get("customer_number") or "")[:64] or None,
        "duration_seconds": fields.get("duration_seconds"),
        "call_timestamp": fields.get("call_timestamp") or datetime.now(UTC),
        "metadata": {"platform": _platform_metadata(event, source)},
        "source_recording_url": (source.get("url") or f"{event.platform}:{event.call_id}") if source else None,
        "transcript": transcript,
        "transcript_source": "provided" if transcript else None,
        "transcription_status": PENDING if source else NOT_APPLICABLE,
        "transcript_branch": PENDING if transcript else NOT_APPLICABLE,
        "audio_branch": PENDING if source else NOT_APPLICABLE,
        "integration_id": integration["id"],
        "recording_source": source,
    }
    inserted = calls_db.insert_call(conn, values, list(catalogue.STANDARD_KEYS), ANALYZE_TASK)
    if not inserted["agent_found"]:
        raise ValidationFailed("The integration's agent was deleted.", code="unmapped_agent",
                               details={"agent_id": ["The agent this event maps to no longer exists."]})
    if inserted["call_id"] is None:
        # a concurrent event of the same call (Retell sends duplicates within a second) won the
        # unique index; its row is committed and visible to this next statement
        existing = calls_db.call_id_by_identifier(conn, workspace_id, event.call_id or "")
        if existing is None:
            raise ServiceUnavailable("The call could not be stored; retry.", code="concurrent_event")
        return _merge(conn, integration, existing, event)
    # its calls.analyze went to the outbox in the same statement as the call (insert_call)
    return {"status": "accepted", "call_id": inserted["call_id"], "call_identifier": event.call_id}


def _merge(conn: Conn, integration: dict, call_id: int, event: PlatformEvent) -> dict:
    """A later event of a call we have: what it adds is kept; it never makes a second call. A
    recording the call lacked (and which its run could not use) brings a new run."""
    seen = _events_seen(conn, integration["workspace_id"], call_id, event.event_type)
    calls_db.merge_platform_event(conn, call_id, {**event.platform_data, "events": seen}, event.call or {})
    source = _recording_source(integration, event)
    rerun = source is not None and source["kind"] != "stored" and _rerun_for_recording(conn, call_id, source)
    return {"status": "updated", "call_id": call_id, "call_identifier": event.call_id, "analyse": rerun}


def _events_seen(conn: Conn, workspace_id: int, call_id: int, event_type: str) -> list[str]:
    row = calls_db.get_call(conn, workspace_id, call_id) or {}
    seen = list(((row.get("metadata") or {}).get("platform") or {}).get("events") or [])
    return seen if event_type in seen else [*seen, event_type]
