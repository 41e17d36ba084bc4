"""Marshmallow schemas of the public API's responses (what views dump; the OpenAPI description
is generated from them)."""
from __future__ import annotations

from marshmallow import Schema, fields

from app.catalogue import DEFAULT_THRESHOLDS


class LinksSchema(Schema):
    self = fields.String()


class _Page(Schema):
    """What every list answers besides its items."""
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class CallAcceptedSchema(Schema):
    id = fields.Integer()
    call_identifier = fields.String()
    analysis_status = fields.String()
    links = fields.Nested(LinksSchema)


class AgentRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class FailureSchema(Schema):
    code = fields.String()
    message = fields.String()


class StandardResultSchema(Schema):
    metric_key = fields.String()
    name = fields.String()
    status = fields.String()
    source = fields.String(allow_none=True)
    result_data = fields.Raw(allow_none=True)
    passed = fields.Boolean(allow_none=True)
    critical = fields.Boolean()
    error = fields.Nested(FailureSchema, allow_none=True)


class CustomResultSchema(Schema):
    metric_id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    version = fields.Integer()
    result_type = fields.String()
    status = fields.String()
    result = fields.Raw(allow_none=True)
    explanation = fields.String(allow_none=True)
    structured_output = fields.Dict(allow_none=True)
    passed = fields.Boolean(allow_none=True)
    critical = fields.Boolean()
    error = fields.Nested(FailureSchema, allow_none=True)
    usage = fields.Dict(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)


class HistorySchema(Schema):
    field = fields.String()
    from_status = fields.String(allow_none=True, data_key="from")
    to_status = fields.String(data_key="to")
    code = fields.String(allow_none=True)
    at = fields.DateTime(format="iso")


class RecordingInfoSchema(Schema):
    format = fields.String()
    codec = fields.String()
    duration_seconds = fields.Float()
    channels = fields.Integer()
    sample_rate = fields.Integer()
    bytes = fields.Integer()


class CallSummarySchema(Schema):
    id = fields.Integer()
    call_identifier = fields.String()
    client_id = fields.Integer(attribute="workspace_id")  # the API's name for the workspace
    agent = fields.Nested(AgentRefSchema)
    observation_type = fields.String()
    analysis_status = fields.String()
    transcription_status = fields.String()
    call_direction = fields.String()
    call_end_reason = fields.String(allow_none=True)
    call_timestamp = fields.DateTime(format="iso")
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")
    customer_number = fields.String(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True)
    label = fields.String(allow_none=True)
    tag = fields.String(allow_none=True)
    metadata = fields.Dict()
    call_success = fields.Boolean(allow_none=True)
    failure = fields.Nested(FailureSchema, allow_none=True)
    links = fields.Nested(LinksSchema)


class CallDetailSchema(CallSummarySchema):
    analysis_run = fields.Integer(metadata={"description": "1, then one more per re-analysis."})
    recording_url = fields.String(allow_none=True)
    recording = fields.Nested(RecordingInfoSchema, allow_none=True)
    transcript = fields.List(fields.Dict(), allow_none=True)
    transcript_source = fields.String(allow_none=True)
    speech = fields.Raw(allow_none=True)
    standard_metrics = fields.List(fields.Nested(StandardResultSchema))
    custom_metrics = fields.List(fields.Nested(CustomResultSchema))
    status_history = fields.List(fields.Nested(HistorySchema))


class PageOfCallsSchema(_Page):
    items = fields.List(fields.Nested(CallSummarySchema))


class AgentSchema(Schema):
    id = fields.Integer()
    client_id = fields.Integer(attribute="workspace_id")
    name = fields.String()
    ai_channel = fields.String()
    disabled_standard_metrics = fields.List(fields.String())
    enabled_metric_ids = fields.List(fields.Integer())
    analysis_settings = fields.Dict()
    standard_criteria = fields.List(fields.Dict())
    effective_analysis_settings = fields.Method("_effective")
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")

    def _effective(self, agent):
        return {**DEFAULT_THRESHOLDS, **(agent.get("analysis_settings") or {})}


class PageOfAgentsSchema(_Page):
    items = fields.List(fields.Nested(AgentSchema))


class MetricVersionSchema(Schema):
    """One version of a custom metric's definition."""

    version = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    kind = fields.String()
    result_type = fields.String()
    prompt = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    enum_values = fields.List(fields.String(), allow_none=True)
    pass_criteria = fields.Dict(allow_none=True)
    critical = fields.Boolean()
    enabled = fields.Boolean()
    redact = fields.Boolean()
    created_at = fields.DateTime(format="iso")


class MetricSchema(MetricVersionSchema):
    """A custom metric: its current version, with the metric's id and workspace."""

    id = fields.Integer()
    client_id = fields.Integer(attribute="workspace_id")
    updated_at = fields.DateTime(format="iso")


class PageOfMetricsSchema(_Page):
    items = fields.List(fields.Nested(MetricSchema))


class MetricVersionsSchema(Schema):
    items = fields.List(fields.Nested(MetricVersionSchema))


class StandardMetricSchema(Schema):
    key = fields.String()
    name = fields.String()
    needs = fields.String()
    voice_only = fields.Boolean()
    result_shape = fields.Raw()


class StandardCatalogueSchema(Schema):
    items = fields.List(fields.Nested(StandardMetricSchema))


class ErrorBodySchema(Schema):
    class _Error(Schema):
        code = fields.String()
        message = fields.String()
        details = fields.Dict()

    error = fields.Nested(_Error)
