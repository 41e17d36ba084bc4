"""Domain exceptions with stable snake_case codes. No HTTP here: app/api/errors.py maps them.

Pipeline failure codes (stored on calls and metric results) are listed in FAILURE_CODES so the
README, the API and the workers agree on one vocabulary.
"""
from __future__ import annotations


class CallscopeError(Exception):
    """Base of every expected error; `code` is part of the public contract."""

    code = "error"
    message = "The request could not be completed."

    def __init__(self, message: str | None = None, details: dict | None = None, code: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or {}
        if code:
            self.code = code


class Unauthorized(CallscopeError):
    code = "unauthorized"
    message = "A valid bearer token is required."


class Forbidden(CallscopeError):
    code = "forbidden"
    message = "The link is invalid or has expired."


class NotFound(CallscopeError):
    code = "not_found"
    message = "The resource does not exist."


class Conflict(CallscopeError):
    code = "call_identifier_conflict"
    message = "A call with this call_identifier already exists in the workspace."


class ValidationFailed(CallscopeError):
    """422: `details` maps dotted field paths to lists of messages."""

    code = "validation_failed"
    message = "The request body failed validation."


class MalformedRequest(CallscopeError):
    code = "malformed_request"
    message = "The request body is not a JSON object."


class UnsupportedMediaType(CallscopeError):
    code = "unsupported_media_type"
    message = "Send the body as application/json."


class PayloadTooLarge(CallscopeError):
    code = "payload_too_large"
    message = "The request body is too large."


class RateLimited(CallscopeError):
    code = "rate_limited"
    message = "Too many requests for this token; retry after the indicated delay."


class ServiceUnavailable(CallscopeError):
    code = "database_unavailable"
    message = "The database is unreachable; retry later."


class StorageUnavailable(CallscopeError):
    code = "storage_unavailable"
    message = "The recording store is unreachable; retry later."


# Codes a call or a metric result can fail (or be skipped) with.
FAILURE_CODES = {
    "recording_unreachable": "The recording could not be downloaded (4xx, or still failing after retries).",
    "recording_forbidden_address": ("The recording URL names a port or resolves to an address the downloader may not dial"
                                    " (SSRF guard)."),
    "recording_too_large": "The recording exceeds the size limit.",
    "recording_too_long": "The recording exceeds the duration limit.",
    "undecodable_audio": "The recording is not WAV, MP3, M4A, FLAC, Ogg or WebM audio that can be decoded.",
    "storage_unavailable": "The recording could not be written to storage (still failing after retries).",
    "worker_lost": "A stage killed its worker repeatedly; the call was given up.",
    "analysis_timeout": "The call made no progress after repeated re-enqueues by the sweeper.",
    "transcription_unavailable": "The transcription endpoint kept failing (after retries).",
    # why transcription_status ended failed (its history row carries the code)
    "transcription_failed": "The speech recogniser failed on the recording.",
    "transcription_disabled": "The worker has no transcriber (CALLSCOPE_TRANSCRIBER=none).",
    # custom metrics (docs/metrics.md#custom-metrics): LLM-as-judge
    "llm_not_configured": "No LLM provider is configured (CALLSCOPE_LLM_BASE_URL).",
    "llm_unavailable": "The LLM provider kept failing (429, 5xx or timeouts, after retries).",
    "llm_request_rejected": "The LLM provider refused the request (bad key, unknown model…).",
    "invalid_judge_output": "The judge's answer did not fit the metric's result type, twice.",
    # custom metrics: code-as-judge
    "code_forbidden": "The code uses something the sandbox's dialect does not allow.",
    "code_error": "The code raised an exception.",
    "code_timeout": "The code ran longer than its time limit.",
    "code_memory_exceeded": "The code exceeded its memory limit.",
    "code_output_too_large": "The code's result was larger than 1 MiB.",
    "invalid_result_type": "The code's result did not fit the metric's result type.",
    "sandbox_unavailable": "The sandbox process could not be started.",
    # either judge (docs/metrics.md#judge-output-limits)
    "unstorable_output": ("The judge's output cannot be stored: an integer beyond ±2^53 or a number that is not"
                          " finite, nesting deeper than 32 levels, an explanation over 16,000 characters or a"
                          " structured output over 64 KiB, or a NUL or a lone surrogate in a string."),
    "metric_failed": "At least one metric failed; see each metric's error.",
    "metric_error": "The metric raised an unexpected error.",
    "internal_error": "An unexpected error stopped the analysis.",
}

# Reasons a metric result can be skipped with.
SKIP_REASONS = {
    "no_timed_transcript": "The metric needs turns with start_time and end_time.",
    "no_transcript": "The metric needs a transcript.",
    "no_ai_speech": "The transcript has no timed AI speech.",
    "not_enough_turns": "The call has no user turn followed by an AI turn.",
    "outbound_call": "Time to first word is measured on inbound calls only.",
    "no_speech": "Neither party speaks in the timed transcript.",
    "text_observation": "A text conversation has no voice to measure.",
    "mono_without_timed_transcript": "A mono recording needs a timed transcript to tell the parties apart.",
    "no_recording": "The metric measures the recording itself; the call has none.",
    "no_provided_transcript": "Transcription accuracy compares a provided transcript with the recording; none was provided.",
    "no_generated_transcript": ("No transcript was generated from the recording (transcription is off)."
                                " A transcriber that failed fails the metric instead."),
    "no_generated_words": "The transcription of the recording found no words.",
    "not_enough_ai_speech": "The AI speaks too little in the recording to measure its voice.",
}
