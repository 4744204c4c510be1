"""Identities apart from usernames: which strings are identities, and 1:1 conversation names
that stay unambiguous whatever the identities hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.api.conversations import _dm_unique_name
from webapp.models import is_valid_identity


@pytest.mark.parametrize(
    "identity", ["42", "user|42", "team/7", "Ada Lovelace", "é" * 256, "+1555"]
)
def test_what_a_host_site_uses_is_an_identity(identity: str) -> None:
    assert is_valid_identity(identity)


@pytest.mark.parametrize(
    "identity", ["", "x" * 257, " 42", "42 ", "a\nb", "a\rb", "a\x00b", "US" + "0" * 32, "a\u2028b"]
)
def test_what_would_break_twilio_or_the_broker_is_not(identity: str) -> None:
    assert not is_valid_identity(identity)


def test_usernames_keep_their_conversation_names() -> None:
    assert _dm_unique_name("bob", "alice") == "dm:alice:bob"


def test_a_colon_in_an_identity_cannot_make_two_pairs_share_a_conversation() -> None:
    assert _dm_unique_name("a:b", "c") != _dm_unique_name("a", "b:c")


@given(st.text(min_size=1, max_size=256), st.text(min_size=1, max_size=256))
def test_a_pair_has_one_name_either_way_round_that_twilio_takes(a: str, b: str) -> None:
    name = _dm_unique_name(a, b)
    assert name == _dm_unique_name(b, a)
    assert len(name) <= 256 and "#" not in name and "/" not in name and "?" not in name
