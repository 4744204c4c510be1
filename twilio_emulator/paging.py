"""Twilio's list paging: `PageSize`, `Page`, `PageToken` in; a `meta` envelope out.

Page tokens are cursors on each record's sort key, so deleting records between page fetches
never skips or repeats the ones that remain. `Page` is only echoed back, as Twilio documents
("this value is simply for client state"). A `PageSize` above 1000 is refused with 20007
("Page size too large. The maximum page size is 1000.", Twilio's error dictionary); one above
the list's own maximum (from the spec: 100, 50 or 5) but within 1000 is lowered to it
(UNCONFIRMED: Twilio does not document what it does there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from twilio_emulator import errors
from twilio_emulator.resources import HOST, Json

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 50
#: Twilio's platform-wide ceiling (error 20007).
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class PageRequest:
    size: int
    page: int
    token: str | None


def page_request(args: Mapping[str, str], max_size: int) -> PageRequest:
    size = _int_arg(args, "PageSize", DEFAULT_PAGE_SIZE)
    page = _int_arg(args, "Page", 0)
    if size < 1 or page < 0:
        raise errors.bad_request(errors.INVALID_PARAMETER, "PageSize must be positive")
    if size > MAX_PAGE_SIZE:
        raise errors.bad_request(
            errors.PAGE_SIZE_TOO_LARGE,
            f"Page size too large. The maximum page size is {MAX_PAGE_SIZE}.",
        )
    return PageRequest(size=min(size, max_size), page=page, token=args.get("PageToken") or None)


def _int_arg(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(errors.INVALID_PARAMETER, f"{name} must be an integer") from None


def paginate(
    items: Sequence[T], request: PageRequest, key: Callable[[T], int], descending: bool = False
) -> tuple[list[T], str | None, str | None]:
    """Cut one page out of `items` (already sorted by `key`, descending if asked); return it
    with the tokens of the pages after and before it (None at either end)."""

    def follows(item: T, mark: int) -> bool:
        return key(item) < mark if descending else key(item) > mark

    def precedes(item: T, mark: int) -> bool:
        return key(item) > mark if descending else key(item) < mark

    if request.token is None:
        chosen = list(items[: request.size])
    else:
        direction, mark = _decode(request.token)
        if direction == "A":
            chosen = [i for i in items if follows(i, mark)][: request.size]
        else:
            before = [i for i in items if precedes(i, mark)]
            chosen = before[-request.size :] if before else []
    if not chosen:
        return [], None, None
    first, last = key(chosen[0]), key(chosen[-1])
    has_next = any(follows(i, last) for i in items)
    has_previous = any(precedes(i, first) for i in items)
    return chosen, f"PA{last}" if has_next else None, f"PB{first}" if has_previous else None


def _decode(token: str) -> tuple[str, int]:
    if len(token) > 2 and token[:2] in ("PA", "PB") and token[2:].lstrip("-").isdigit():
        return token[1], int(token[2:])
    raise errors.bad_request(errors.INVALID_PARAMETER, f"Invalid PageToken: {token}")


def envelope(
    key: str,
    records: list[Json],
    request: PageRequest,
    path: str,
    filters: Sequence[tuple[str, str]],
    next_token: str | None,
    previous_token: str | None,
) -> Json:
    """Twilio's list body: the records under `key`, and `meta` with absolute page URLs."""

    def url(page: int, token: str | None) -> str:
        query = [*filters, ("PageSize", str(request.size)), ("Page", str(page))]
        if token:
            query.append(("PageToken", token))
        return f"{HOST}{path}?{urlencode(query)}"

    return {
        key: records,
        "meta": {
            "page": request.page,
            "page_size": request.size,
            "first_page_url": url(0, None),
            "previous_page_url": (
                url(max(request.page - 1, 0), previous_token) if previous_token else None
            ),
            "url": url(request.page, request.token),
            "next_page_url": url(request.page + 1, next_token) if next_token else None,
            "key": key,
        },
    }
