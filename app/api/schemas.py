"""Marshmallow schemas of the public API's requests (responses: app/api/responses.py).

Inputs are strict: unknown fields are rejected, numbers must be JSON numbers (not strings, not
booleans), datetimes must carry a UTC offset, enums and roles are exact strings.
"""
from __future__ import annotations

import json
import math

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.catalogue import STANDARD_KEYS
from app.criteria import OPERATORS, RESULT_TYPES
from app.status import COMPUTED, FAILED, PENDING
from app.urls import MAX_URL_LENGTH, BadURL, parse_recording_url

ROLES = ("AI Assistant", "User", "Function Call", "Function Call Result")
MAX_TURNS = 5000
MAX_METADATA_BYTES = 64 * 1024


class StrictInteger(fields.Integer):
    """A JSON integer: rejects strings, floats and booleans (bool is an int in Python)."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictNumber(fields.Float):
    """A finite JSON number (int or float), never a string or boolean."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.make_error("invalid")
        return float(value)


class StrictBoolean(fields.Boolean):
    """Only JSON true/false (query strings use QueryBoolean)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _metadata_size(value: dict) -> None:
    if len(json.dumps(value, separators=(",", ":"))) > MAX_METADATA_BYTES:
        raise ValidationError("Metadata must be at most 64 KiB when serialised.")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class TurnSchema(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    content = fields.String(allow_none=True)
    start_time = StrictNumber(validate=validate.Range(min=0))
    end_time = StrictNumber(validate=validate.Range(min=0))
    data = fields.Dict(keys=fields.String())

    @validates_schema
    def _times_ordered(self, turn, **kwargs):
        start, end = turn.get("start_time"), turn.get("end_time")
        if start is not None and end is not None and end < start:
            raise ValidationError("end_time must be ≥ start_time.", "end_time")


_TURN_FIELDS = frozenset({"role", "content", "start_time", "end_time", "data"})


def _plain_time(turn: dict, name: str):
    """The time as TurnSchema loads it (a float), None when absent, False when the schema
    would have a word to say about it."""
    if name not in turn:
        return None
    value = turn[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return False
    return float(value)


def plain_turns(value) -> list[dict] | None:
    """The turns exactly as `TurnSchema(many=True)` would load them, when every turn is plainly
    valid; None as soon as one is not (the schema then runs, and words the errors). Measured on a
    20-turn transcript: ~30 µs here against ~270 µs through the nested schema, which was the
    largest part of validating a POST /calls. tests/unit/test_schemas.py checks, on generated
    turns valid and not, that this never accepts what the schema refuses nor loads differently."""
    if not isinstance(value, list):
        return None
    turns = []
    for turn in value:
        if not isinstance(turn, dict) or not turn.keys() <= _TURN_FIELDS:
            return None
        role, content = turn.get("role"), turn.get("content")
        if not isinstance(role, str) or role not in ROLES or not (content is None or isinstance(content, str)):
            return None
        start, end = _plain_time(turn, "start_time"), _plain_time(turn, "end_time")
        if start is False or end is False or (start is not None and end is not None and end < start):
            return None
        loaded: dict = {"role": role}
        if "content" in turn:
            loaded["content"] = content
        if start is not None:
            loaded["start_time"] = start
        if end is not None:
            loaded["end_time"] = end
        if "data" in turn:
            data = turn["data"]
            if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
                return None
            loaded["data"] = dict(data)
        turns.append(loaded)
    return turns


class Transcript(fields.List):
    """A list of TurnSchema turns, with plainly valid ones taking a direct path (plain_turns)."""

    def __init__(self, **kwargs):
        super().__init__(fields.Nested(TurnSchema), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        turns = plain_turns(value)
        return turns if turns is not None else super()._deserialize(value, attr, data, **kwargs)


def fetchable_url(url: str) -> None:
    """The downloader's own syntax rule (app/urls.py): a URL it could not parse is refused here
    with 422 rather than accepted and failed later (recording URLs and webhook targets alike)."""
    try:
        parse_recording_url(url)
    except BadURL as exc:
        raise ValidationError(str(exc)) from None


class CallCreateSchema(StrictSchema):
    call_identifier = fields.String(required=True, validate=validate.Length(min=1, max=255))
    agent_id = StrictInteger(required=True)
    client_id = StrictInteger(required=True)
    recording_url = fields.Url(schemes={"http", "https"}, require_tld=False,
                               validate=[validate.Length(max=MAX_URL_LENGTH), fetchable_url],
                               metadata={"format": "uri", "pattern": "^https?://", "maxLength": 2048,
                                         "description": "WAV, MP3, M4A, FLAC, Ogg (Opus/Vorbis) or WebM (Opus) over http(s)."})
    transcript = Transcript(validate=validate.Length(min=1, max=MAX_TURNS))
    observation_type = fields.String(load_default="voice", validate=validate.OneOf(("voice", "text")))
    call_direction = fields.String(load_default="inbound", validate=validate.OneOf(("inbound", "outbound")))
    call_end_reason = fields.String(validate=validate.Length(max=255), allow_none=True)
    customer_number = fields.String(validate=validate.Length(max=64), allow_none=True)
    duration_seconds = StrictInteger(validate=validate.Range(min=0, max=2**31 - 1), allow_none=True)
    call_timestamp = fields.AwareDateTime(format="iso", allow_none=True)
    label = fields.String(validate=validate.Length(max=255), allow_none=True)
    metric_ids = fields.List(StrictInteger(validate=validate.Range(min=1)), validate=validate.Length(max=200))
    metadata = fields.Dict(keys=fields.String(), validate=_metadata_size, allow_none=True)

    @validates_schema
    def _needs_a_source(self, call, **kwargs):
        if not call.get("recording_url") and not call.get("transcript"):
            message = "Provide recording_url, transcript, or both."
            raise ValidationError({"recording_url": [message], "transcript": [message]})


class CallPatchSchema(StrictSchema):
    label = fields.String(validate=validate.Length(max=255), allow_none=True)
    tag = fields.String(validate=validate.Length(max=255), allow_none=True)
    customer_number = fields.String(validate=validate.Length(max=64), allow_none=True)
    call_end_reason = fields.String(validate=validate.Length(max=255), allow_none=True)
    metadata = fields.Dict(keys=fields.String(), validate=_metadata_size)


class QueryBoolean(fields.Boolean):
    truthy = {"true", "1"}
    falsy = {"false", "0"}


class PageSchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class CallListQuerySchema(PageSchema):
    agent_id = fields.Integer()
    analysis_status = fields.String(validate=validate.OneOf((PENDING, COMPUTED, FAILED)))
    observation_type = fields.String(validate=validate.OneOf(("voice", "text")))
    call_direction = fields.String(validate=validate.OneOf(("inbound", "outbound")))
    call_end_reason = fields.String()
    label = fields.String()
    tag = fields.String()
    call_success = QueryBoolean()
    from_ = fields.AwareDateTime(format="iso", data_key="from")
    to = fields.AwareDateTime(format="iso")


class AnalysisSettingsSchema(StrictSchema):
    """Per-agent thresholds (milliseconds); null resets a key to its default on PATCH."""

    merge_gap_ms = StrictInteger(validate=validate.Range(min=0, max=600_000), allow_none=True)
    min_segment_ms = StrictInteger(validate=validate.Range(min=0, max=600_000), allow_none=True)
    interruption_min_overlap_ms = StrictInteger(validate=validate.Range(min=0, max=600_000), allow_none=True)
    backchannel_max_ms = StrictInteger(validate=validate.Range(min=0, max=600_000), allow_none=True)
    silence_threshold_ms = StrictInteger(validate=validate.Range(min=0, max=600_000), allow_none=True)
    non_adherence_ms = StrictInteger(validate=validate.Range(min=0, max=600_000), allow_none=True)
    voice_change_min_ratio = StrictNumber(validate=validate.Range(min=0.5, max=10), allow_none=True)


class CriteriaField(fields.Dict):
    """A pass criterion: one operator → operand (fit to the result type is checked by the service)."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(validate=validate.OneOf(OPERATORS)), validate=validate.Length(equal=1),
                         metadata={"description": f"Exactly one of {list(OPERATORS)}, e.g. {{\"gte\": 4}}."},
                         **kwargs)


class StandardCriterionSchema(StrictSchema):
    """`metric` is `<metric_key>.<field path in its result_data>`, e.g. `latency_ms.average_ms`."""

    metric = fields.String(required=True, validate=validate.Regexp(
        rf"^({'|'.join(STANDARD_KEYS)})(\.[a-z_]+)+$", error="Use <standard metric key>.<result field>."))
    criteria = CriteriaField(required=True)
    critical = StrictBoolean(load_default=True)


class AgentCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    ai_channel = fields.String(load_default="left", validate=validate.OneOf(("left", "right", "auto")))
    disabled_standard_metrics = fields.List(fields.String(validate=validate.OneOf(STANDARD_KEYS)), load_default=list)
    enabled_metric_ids = fields.List(StrictInteger(validate=validate.Range(min=1)), load_default=list)
    analysis_settings = fields.Nested(AnalysisSettingsSchema, load_default=dict)
    standard_criteria = fields.List(fields.Nested(StandardCriterionSchema), load_default=list,
                                    validate=validate.Length(max=50))


class AgentPatchSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=255))
    ai_channel = fields.String(validate=validate.OneOf(("left", "right", "auto")))
    disabled_standard_metrics = fields.List(fields.String(validate=validate.OneOf(STANDARD_KEYS)))
    enabled_metric_ids = fields.List(StrictInteger(validate=validate.Range(min=1)))
    analysis_settings = fields.Nested(AnalysisSettingsSchema)
    standard_criteria = fields.List(fields.Nested(StandardCriterionSchema), validate=validate.Length(max=50))


class MetricPatchSchema(StrictSchema):
    """Partial update of a custom metric; null clears an optional field. Creates a new version."""

    name = fields.String(validate=validate.Length(min=1, max=255))
    description = fields.String(validate=validate.Length(max=2000), allow_none=True)
    kind = fields.String(validate=validate.OneOf(("llm", "code")))
    result_type = fields.String(validate=validate.OneOf(RESULT_TYPES))
    prompt = fields.String(validate=validate.Length(min=1, max=20_000), allow_none=True)
    code = fields.String(validate=validate.Length(min=1, max=65_536), allow_none=True)
    enum_values = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                              validate=validate.Length(min=2, max=50), allow_none=True)
    pass_criteria = CriteriaField(allow_none=True)
    critical = StrictBoolean()
    enabled = StrictBoolean()
    redact = StrictBoolean(metadata={"description": "LLM metrics: judge a transcript with phone numbers, e-mail "
                                                    "addresses and card numbers masked (docs/metrics.md#redaction)."})


class MetricCreateSchema(MetricPatchSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    kind = fields.String(required=True, validate=validate.OneOf(("llm", "code")))
    result_type = fields.String(required=True, validate=validate.OneOf(RESULT_TYPES))
    critical = StrictBoolean(load_default=False)
    enabled = StrictBoolean(load_default=True)
    redact = StrictBoolean(load_default=False)


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict → {"transcript.3.role": ["…"]} (docs/api.md#errors)."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = "body" if key == "_schema" and not prefix else str(key)
            path = f"{prefix}.{name}" if prefix else name
            if key == "_schema" and prefix:
                path = prefix
            for p, msgs in flatten_messages(value, path).items():
                flat.setdefault(p, []).extend(msgs)
    elif isinstance(messages, list):
        flat[prefix or "body"] = [str(m) for m in messages]
    else:
        flat[prefix or "body"] = [str(messages)]
    return flat
