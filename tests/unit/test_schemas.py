"""Error flattening for 422 details (docs/api.md#errors: dotted paths)."""
from marshmallow import ValidationError

from app.api.schemas import CallCreateSchema, flatten_messages


def test_flatten_nested_paths():
    messages = {"transcript": {3: {"role": ["bad"]}}, "metric_ids": {0: ["nope"]}, "_schema": ["whole"]}
    assert flatten_messages(messages) == {"transcript.3.role": ["bad"], "metric_ids.0": ["nope"], "body": ["whole"]}


def test_schema_rejects_bool_and_string_numbers():
    schema = CallCreateSchema()
    for bad in (True, "5", 5.5):
        try:
            schema.load({"call_identifier": "x", "agent_id": bad, "client_id": 1, "transcript": [{"role": "User"}]})
        except ValidationError as exc:
            assert "agent_id" in exc.messages
        else:
            raise AssertionError(f"{bad!r} accepted")
