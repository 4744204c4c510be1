"""The JSON parameters of a webhook (``Attributes``, ``Media``) read as a full parse reads them,
the common empty ones included (those skip the parse)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from webapp.twilio_gateway.records import attributes_from_json, media_from_items, media_from_json

EMPTY_AND_ODD = ["{}", "[]", "", " {} ", "{ }", "null", "0", '"{}"', "{", '{"a": 1}', "[{}]"]
PARAMETERS = st.none() | st.sampled_from(EMPTY_AND_ODD) | st.text(max_size=40)


def _parsed(raw: str | None, empty: str) -> Any:
    try:
        return json.loads(raw or empty)
    except ValueError:
        return None


@given(PARAMETERS)
def test_attributes_read_as_parsed_json_objects(raw: str | None) -> None:
    parsed = _parsed(raw, "{}")
    assert attributes_from_json(raw) == (parsed if isinstance(parsed, dict) else {})


@given(PARAMETERS)
def test_media_read_as_parsed_json_lists(raw: str | None) -> None:
    assert media_from_json(raw) == media_from_items(_parsed(raw, "[]"), webhook=True)


def test_each_empty_answer_is_a_fresh_object() -> None:
    first = attributes_from_json("{}")
    first["edited"] = True
    assert attributes_from_json("{}") == {} == attributes_from_json(None)
