"""A message's media as Parley reads it from Twilio: the webhook's ``Media`` parameter (a JSON
string anyone with the credentials can shape) and the REST resource's ``media`` list."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from webapp.twilio_gateway.records import MediaRecord, media_from_items, media_from_json

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


def test_the_webhook_form_and_the_rest_form_read_the_same() -> None:
    webhook = '[{"Sid": "ME1", "Filename": "a.png", "ContentType": "image/png", "Size": 3}]'
    rest = [{"sid": "ME1", "filename": "a.png", "content_type": "image/png", "size": 3}]
    expected = (MediaRecord("ME1", "a.png", "image/png", 3),)
    assert media_from_json(webhook) == expected == media_from_items(rest)
    assert media_from_json(None) == () == media_from_items(None)


@given(st.text() | JSON.map(json.dumps))
def test_any_media_parameter_reads_as_a_list_never_an_error(raw: str) -> None:
    for media in media_from_json(raw):
        assert isinstance(media.sid, str) and isinstance(media.content_type, str)
        assert isinstance(media.size, int) and not isinstance(media.size, bool)
        assert media.filename is None or isinstance(media.filename, str)
