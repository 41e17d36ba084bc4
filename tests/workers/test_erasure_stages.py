"""Erasure meets the pipeline (docs/operations.md#erasure-and-retention): a call erased while
its stages run leaves nothing behind — no recording uploaded after the erasure, no stage error."""
from __future__ import annotations

import pytest

from app.service.erasure import erase_call
from tests.support.audio import wav_bytes
from tests.support.http_server import RecordingServer
from tests.support.transcripts import CALL
from workers.stages import analyze, finalize, recording, transcript

pytestmark = pytest.mark.services


def stored_files(deps, workspace_id, call_id) -> list:
    folder = deps.storage.path_of(f"recordings/{workspace_id}/{call_id}/original.wav").parent
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_call_erased_during_its_download_leaves_no_recording(env):
    deps, sent, new_call, db = env
    with RecordingServer() as server:
        url = server.add("race.wav", wav_bytes(1.0))
        call_id = new_call(transcript=CALL, recording_url=url)
        analyze.analyze_call(deps, call_id)
        # the erasure lands while the worker downloads: before its upload, after its claim
        server.hooks["/files/race.wav"] = lambda _: erase_call(deps.pool, deps.storage, new_call.workspace_id,
                                                               str(call_id))
        assert recording.fetch_recording(deps, call_id) is None
    assert stored_files(deps, new_call.workspace_id, call_id) == []
    assert db.execute("SELECT count(*) AS n FROM calls WHERE id = %s", (call_id,)).fetchone()["n"] == 0


def test_stages_of_an_erased_call_do_nothing(env):
    deps, sent, new_call, db = env
    call_id = new_call(transcript=CALL)
    analyze.analyze_call(deps, call_id)
    erase_call(deps.pool, deps.storage, new_call.workspace_id, str(call_id))
    sent.tasks.clear()
    transcript.compute_transcript_metrics(deps, call_id)  # its task was already queued
    finalize.finalize_call(deps, call_id)
    assert sent.tasks == []
    assert db.execute("SELECT count(*) AS n FROM stage_runs WHERE call_id = %s", (call_id,)).fetchone()["n"] == 0
