"""``GET /api/users``: a search by name, a page at a time, never the whole list of accounts
(over real HTTP, with people a host site signed in by name)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import host_site
from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer

BOUNDED = settings(
    max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def host_user(server: ParleyServer, identity: str, name: str | None = None) -> ApiClient:
    return host_site.signed_in(server.url, identity, **({"name": name} if name else {}))


@pytest.fixture(scope="module")
def searcher(sso_parley_server: ParleyServer) -> Iterator[tuple[ApiClient, str]]:
    """Someone searching, and a word only this module's people have in their names."""
    word = "Q" + uuid.uuid4().hex[:6]
    for n in range(5):
        host_user(sso_parley_server, f"dir-{word}-{n}", f"{word} Person {n}")
    host_user(sso_parley_server, f"id-{word.lower()}")  # no name: found by identity
    yield host_user(sso_parley_server, f"dir-{word}-me", f"{word} Myself"), word


def search(client: ApiClient, **params: str) -> list[str]:
    answer = client.get("/api/users", params=params)
    assert answer.status_code == 200, answer.text
    return [user["identity"] for user in answer.json()["users"]]


def test_a_name_is_found_by_its_first_letters_or_a_word_in_any_case(searcher) -> None:  # type: ignore[no-untyped-def]
    me, word = searcher
    everyone = [f"dir-{word}-{n}" for n in range(5)]
    assert search(me, q=word.upper()) == everyone  # not oneself
    assert f"dir-{word}-3" in search(me, q="person 3")  # a later word of the name
    assert f"dir-{word}-3" not in search(me, q="erson 3")  # not the middle of a word
    assert search(me, q="ID-" + word) == [f"id-{word.lower()}"]  # an identity's first letters
    answer = me.get("/api/users", params={"q": word + " Person 1"}).json()["users"]
    assert answer == [
        {
            "identity": f"dir-{word}-1",
            "display_name": f"{word} Person 1",
            "username": f"dir-{word}-1",
        }
    ]


def test_pages_follow_one_another_without_repeats(searcher) -> None:  # type: ignore[no-untyped-def]
    me, word = searcher
    seen: list[str] = []
    after: str | None = None
    for _ in range(5):
        params = {"q": word, "limit": "2", **({"after": after} if after else {})}
        page = me.get("/api/users", params=params).json()
        seen += [user["identity"] for user in page["users"]]
        after = page["next"]
        if after is None:
            break
    assert seen == [f"dir-{word}-{n}" for n in range(5)]


def test_too_short_or_wild_queries_find_nobody_or_say_why(searcher) -> None:  # type: ignore[no-untyped-def]
    me, _ = searcher
    assert me.get("/api/users").json() == {"users": [], "next": None}
    for params in ({"q": "a"}, {"q": "  a  "}, {"q": ""}):
        answer = me.get("/api/users", params=params)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "query_too_short"
    assert search(me, q="%%") == [] and search(me, q="__") == []  # no LIKE wildcards
    for params in ({"q": "ab", "limit": "51"}, {"q": "ab", "limit": "0"}, {"q": "ab", "after": ""}):
        assert me.get("/api/users", params=params).status_code == 400


@BOUNDED
@given(
    q=st.none() | st.text(st.characters(blacklist_categories=("Cs",)), max_size=80),
    limit=st.none() | st.text(max_size=6) | st.integers(-5, 80).map(str),
    after=st.none() | st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
)
def test_any_search_parameters_get_a_page_or_a_clear_refusal(searcher, q, limit, after) -> None:  # type: ignore[no-untyped-def]
    me, _ = searcher
    params = {k: v for k, v in {"q": q, "limit": limit, "after": after}.items() if v is not None}
    answer = me.get("/api/users", params=params)
    assert answer.status_code in (200, 400), answer.text
    body = answer.json()
    if answer.status_code == 200:
        assert isinstance(body["users"], list) and len(body["users"]) <= 50
    else:
        assert isinstance(body["error"]["code"], str) and body["error"]["message"]
