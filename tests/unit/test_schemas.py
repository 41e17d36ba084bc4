"""Error flattening for 422 details (docs/api.md#errors: dotted paths); the direct path for valid turns."""
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from app.api.schemas import ROLES, CallCreateSchema, TurnSchema, flatten_messages, plain_turns


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


# The direct path for valid turns (app/api/schemas.plain_turns) against the nested schema it
# stands in for: on generated turns, valid and not, it never accepts a transcript the schema
# refuses, and what it returns is exactly what the schema would load.
_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=3), st.sampled_from(ROLES), st.lists(st.integers(), max_size=2),
                    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
_turn = st.dictionaries(st.sampled_from(["role", "content", "start_time", "end_time", "data", "extra"]),
                        _values, max_size=5)
_valid_turn = st.fixed_dictionaries(
    {"role": st.sampled_from(ROLES)},
    optional={"content": st.one_of(st.none(), st.text(max_size=5)),
              "start_time": st.one_of(st.integers(0, 100), st.floats(0, 100)),
              "end_time": st.one_of(st.integers(0, 100), st.floats(0, 100)),
              "data": st.dictionaries(st.text(max_size=3), st.one_of(st.text(max_size=3), st.integers()), max_size=3)})


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.lists(_turn, max_size=4), st.lists(_valid_turn, max_size=4), _values))
def test_the_direct_path_for_turns_agrees_with_the_schema(value):
    direct = plain_turns(value)
    try:
        loaded = TurnSchema(many=True).load(value)
    except ValidationError:
        assert direct is None
        return
    if direct is not None:
        assert direct == loaded
        assert [{k: type(v) for k, v in turn.items()} for turn in direct] == \
            [{k: type(v) for k, v in turn.items()} for turn in loaded]  # 3 stays 3.0, as the schema makes it
