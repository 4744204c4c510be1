"""JSON request bodies, read strictly: what Python's parser accepts but Parley cannot use is
refused as invalid JSON (a 400) where the body is read, never met later as a 500.

Python's ``json`` accepts three such things: a lone surrogate escape such as ``\\ud800`` (valid
JSON, not Unicode: encoding it for Twilio, the database or a password hash fails), nesting
thousands of levels deep (a ``RecursionError``, which is not a ``ValueError``), and ``NaN`` or
``Infinity`` (not JSON at all). The app's JSON provider uses :func:`loads`, so every
``request.get_json()`` (the API's, Flask-WTF's forms') gets the same answer.
"""

from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider

#: Parley's bodies are a level or two deep; this leaves room without inviting deep recursion.
MAX_DEPTH = 32
_TOO_DEEP = f"The body is nested too deeply: at most {MAX_DEPTH} levels."


class InvalidJson(ValueError):
    """The body is not JSON Parley accepts; the message says why, for the client."""


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` that refuses lone surrogates, deep nesting and non-JSON constants."""
    try:
        value = json.loads(text, **{"parse_constant": _no_constant, **kwargs})
    except RecursionError:
        raise InvalidJson(_TOO_DEEP) from None
    except InvalidJson:
        raise
    except ValueError as exc:  # malformed JSON, or bytes that are not UTF-8/16/32
        raise InvalidJson("The body is not valid JSON.") from exc
    _check(value)
    return value


def _no_constant(name: str) -> Any:
    raise InvalidJson(f"The body is not valid JSON: {name} is not a JSON number.")


def _check(value: Any) -> None:
    """Every string (keys too) is Unicode and no list or object is too deep; walked without
    recursion, so a body the parser accepted cannot exhaust the stack here either."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, list | dict):
            if depth > MAX_DEPTH:
                raise InvalidJson(_TOO_DEEP)
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                pending.extend((inner, depth + 1) for inner in item.values())
            else:
                pending.extend((inner, depth + 1) for inner in item)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode()
    except UnicodeEncodeError:
        raise InvalidJson(
            "The body is not valid JSON text: it has a lone surrogate escape (such as \\ud800), "
            "which stands for no character."
        ) from None


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with :func:`loads` for reading: ``request.get_json()`` answers 400."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)
