"""Turning service results into the public response shapes (before schema dumping)."""
from __future__ import annotations

from app.catalogue import STANDARD_METRICS
from app.errors import FAILURE_CODES, SKIP_REASONS
from app.paths import API_PREFIX
from app.status import FAILED

_NAMES = {m.key: m.name for m in STANDARD_METRICS}


def call_link(call_id: int) -> str:
    return f"{API_PREFIX}/calls/{call_id}"


def accepted(call: dict) -> dict:
    return {**call, "links": {"self": call_link(call["id"])}}


def call_summary(row: dict) -> dict:
    failure = None
    if row["analysis_status"] == FAILED and row.get("failure_code"):
        failure = {"code": row["failure_code"],
                   "message": row.get("failure_message") or FAILURE_CODES.get(row["failure_code"], "")}
    return {**row, "agent": {"id": row["agent_id"], "name": row["agent_name"]},
            "failure": failure, "links": {"self": call_link(row["id"])}}


def _explained(code: str, message: str | None) -> str:
    return message or SKIP_REASONS.get(code) or FAILURE_CODES.get(code, "")


def _standard_result(row: dict) -> dict:
    error = None
    if row["error_code"]:
        error = {"code": row["error_code"], "message": _explained(row["error_code"], row["error_message"])}
    return {**row, "name": _NAMES.get(row["metric_key"], row["metric_key"]), "error": error}


def _custom_result(row: dict) -> dict:
    error = None
    if row["error_code"]:
        error = {"code": row["error_code"], "message": _explained(row["error_code"], row["error_message"])}
    return {**row, "error": error}


def call_detail(call: dict) -> dict:
    return {
        **call_summary(call),
        "recording": call.get("recording_info"),
        "standard_metrics": [_standard_result(r) for r in call["results"]],
        "custom_metrics": [_custom_result(r) for r in call["custom_results"]],
        "status_history": call["history"],
    }
