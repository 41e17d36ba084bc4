"""Erasure and retention (docs/operations.md#erasure-and-retention): `DELETE /calls/{id}` and
the retention sweep that beat runs in the worker. Shared by both processes, so the functions
take the pool and the store rather than a process's Deps.

Order, and why: the call's rows are deleted first, with an `erasures` row in the same
transaction; the recording is deleted after the commit; the erasures row goes last. A worker
stage that stores the recording checks after its upload that the call still exists and removes
the object if not (workers/stages/recording.py), so whichever of the two runs first, no
recording outlives its call. A store that is down leaves the erasure pending: the request is
answered 503 (retrying it finishes the job) and the next retention sweep finishes it anyway.
"""
from __future__ import annotations

import logging

from app.db import erasures as erasures_db
from app.db.erasures import ErasureRow
from app.db.pool import Pool, transaction
from app.errors import NotFound, StorageUnavailable
from app.service.calls import resolve_call_id
from app.storage import Storage, recording_prefix

log = logging.getLogger(__name__)
BATCH = 200


def erase_call(pool: Pool, storage: Storage, workspace_id: int, ref: str) -> None:
    """Erase a call of the workspace (by id or call_identifier) with its results and stored
    recording. Idempotent: an unknown or already erased call is no error. Raises
    StorageUnavailable when the recording could not be deleted yet."""
    with transaction(pool) as conn:
        try:
            found = resolve_call_id(conn, workspace_id, ref)
        except NotFound:
            # erased before? its recording may still be pending after a store outage
            call_id = int(ref) if ref.isascii() and ref.isdigit() and len(ref) < 19 else None
        else:
            erasures_db.erase_calls(conn, [found], "request", workspace_id)
            call_id = found
        pending = erasures_db.unfinished_erasures(conn, 1, call_id) if call_id is not None else []
    pending = [row for row in pending if row["workspace_id"] == workspace_id]
    if pending and not finish_erasures(pool, storage, pending):
        raise StorageUnavailable("The call is erased; its recording could not be deleted yet. Retry to confirm.")


def erase_expired(pool: Pool, storage: Storage, batch: int = BATCH) -> dict:
    """One retention sweep: erase up to `batch` calls older than their workspace's retention
    period, then finish every pending erasure (these and leftovers of store outages).
    Returns counts {"erased", "recordings_pending"} for the log."""
    with transaction(pool) as conn:
        erased = erasures_db.erase_calls(conn, erasures_db.expired_call_ids(conn, batch), "retention")
        pending = erasures_db.unfinished_erasures(conn, batch + len(erased))
    finished = finish_erasures(pool, storage, pending)
    counts = {"erased": len(erased), "recordings_pending": len(pending) - finished}
    if erased or pending:
        log.info("retention sweep", extra=counts)
    return counts


def finish_erasures(pool: Pool, storage: Storage, rows: list[ErasureRow]) -> int:
    """Delete the stored recordings of erased calls, and the platform audio stored for them;
    returns how many erasures completed (the others stay pending: the store failed and was logged)."""
    done = 0
    for row in rows:
        try:
            storage.delete_prefix(recording_prefix(row["workspace_id"], row["call_id"]))
            for key in row["extra_keys"]:
                storage.delete_key(key)
        except Exception as exc:  # boto3 and OS errors alike: the erasure stays pending, retried later
            log.warning("recording not deleted yet", extra={"call_id": row["call_id"], "reason": type(exc).__name__})
            continue
        with transaction(pool) as conn:
            erasures_db.finish_erasure(conn, row["call_id"])
        done += 1
    return done
