"""Only a translator's errors make a webhook "malformed" (a 400, which Twilio does not
retry): the same errors raised while an event is being published are Parley's own fault."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from webapp.webhooks.handler import Malformed, parameters_checked


def _translator(fail_after: int) -> Iterator[int]:
    yield from range(fail_after)
    raise KeyError("Index")


def test_a_translator_failing_on_its_parameters_is_malformed() -> None:
    seen: list[int] = []
    with pytest.raises(Malformed):
        for event in parameters_checked(lambda: _translator(2)):
            seen.append(event)
    assert seen == [0, 1]


def test_an_error_while_publishing_an_event_is_not_called_malformed() -> None:
    with pytest.raises(ValueError, match="I/O operation on closed file"):
        for _event in parameters_checked(lambda: [1, 2]):
            raise ValueError("I/O operation on closed file")


def test_a_translator_refusing_its_parameters_at_once_is_malformed() -> None:
    def refuses() -> list[int]:
        raise ValueError("not a SID")

    with pytest.raises(Malformed):
        list(parameters_checked(refuses))


def test_every_event_comes_through_in_order() -> None:
    assert list(parameters_checked(lambda: iter("abc"))) == ["a", "b", "c"]
