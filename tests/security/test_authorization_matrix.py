"""Every route, classified: a new route fails here until someone decides who may call it.

Logged out: API and stream answer 401 JSON, pages redirect to /login, the webhook answers 403.
An outsider naming another user's conversation gets exactly the 404 of a SID that does not exist.
"""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.routing import Rule

from tests.security.conftest import Visitor
from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer

PUBLIC, PAGE, API, WEBHOOK, METRICS = "public", "page", "api", "webhook", "metrics"

#: endpoint → who may call it. Add every new endpoint here, with its tests.
ROUTES = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.register": PUBLIC,
    "ops.healthz": PUBLIC,
    "ops.prometheus_metrics": METRICS,  # bearer token; 404 without METRICS_TOKEN
    "auth.logout": PAGE,
    "chat.index": PAGE,
    "chat.conversation": PAGE,
    "api.list_conversations": API,
    "api.create_conversation": API,
    "api.get_conversation": API,
    "api.list_messages": API,
    "api.send_message": API,
    "api.mark_read": API,
    "api.rename_conversation": API,
    "api.add_participant": API,
    "api.leave_conversation": API,
    "api.remove_participant": API,
    "api.edit_message": API,
    "api.delete_message": API,
    "api.message_deliveries": API,  # each phone's receipt (tests/integration/test_deliveries.py)
    "api.list_users": API,
    "api.access_token": API,
    "stream.stream": API,
    "api.send_typing": API,  # typing + presence
    "api.presence": API,
    "api.mute_conversation": API,  # tests/integration/test_mutes.py
    "api.unmute_conversation": API,
    "api.upload_media": API,  # photos and files (tests/integration/test_media_upload.py)
    "api.get_media": API,
    "webhooks.twilio_webhook": WEBHOOK,
    # Web Push (tests/integration/test_push.py): the service worker's script is public.
    "push.service_worker": PUBLIC,
    "push.push_settings": API,
    "push.subscribe": API,
    "push.unsubscribe": API,
    # A host site's signed, single-use token is the proof (tests/security/test_sso.py).
    "sso.login": PUBLIC,
    "sso.logout": PUBLIC,
}

UNKNOWN_SID = "CH" + "0" * 32
UNKNOWN_MESSAGE_SID = "IM" + "0" * 32
UNKNOWN_MEDIA_SID = "ME" + "0" * 32

#: Bodies that would be accepted from a participant: the outsider's refusal is not validation.
PLAUSIBLE_BODIES: dict[str, dict[str, Any]] = {
    "api.send_message": {"body": "let me in"},
    "api.mark_read": {"index": 0},
    "api.rename_conversation": {"friendly_name": "mine now"},
    "api.add_participant": {"participants": ["carol"]},
    "api.edit_message": {"body": "edited by an outsider"},
    "api.mute_conversation": {"duration": "hour"},
}


def _path(rule: Rule, sid: str = UNKNOWN_SID) -> str:
    return (
        rule.rule.replace("<path:filename>", "css/app.css")
        .replace("<sid>", sid)
        .replace("<message_sid>", UNKNOWN_MESSAGE_SID)
        .replace("<path:who>", "+15550001111")
        .replace("<media_sid>", UNKNOWN_MEDIA_SID)
    )


def _calls(rules: list[Rule]) -> list[tuple[str, Rule]]:
    return [
        (method, rule)
        for rule in rules
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


def test_every_route_is_classified(url_rules: list[Rule]) -> None:
    served = {rule.endpoint for rule in url_rules}
    assert served - set(ROUTES) == set(), "new route(s): classify them in ROUTES"
    assert set(ROUTES) - served == set(), "ROUTES names routes that no longer exist"


def test_logged_out_clients_are_refused_everywhere(
    parley_server: ParleyServer, url_rules: list[Rule]
) -> None:
    visitor = Visitor(parley_server.url)  # has a CSRF token: the refusal is about login
    for method, rule in _calls(url_rules):
        kind = ROUTES[rule.endpoint]
        body: dict[str, Any] = {"json": {}} if method in ("POST", "PATCH") else {}
        response = visitor.request(method, _path(rule), **body)
        where = f"{method} {rule.rule}"
        if kind == API:
            assert response.status_code == 401, where
            assert response.json()["error"]["code"] == "unauthorized", where
        elif kind == PAGE:
            assert response.status_code == 302, where
            assert response.headers["Location"].startswith("/login"), where
        elif kind == WEBHOOK:
            assert response.status_code == 403, where
        elif kind == METRICS:
            assert response.status_code == 404, where
        else:
            # Open to all; a form POSTed empty is a 400, and healthz may report 503.
            assert response.status_code < 500 or rule.endpoint == "ops.healthz", where


@pytest.fixture(scope="module")
def private_sid(parley_server: ParleyServer) -> str:
    alice = ApiClient(parley_server.url).login("alice", parley_server.password)
    return str(alice.start_dm("bob")["sid"])


def test_an_outsider_cannot_tell_a_private_conversation_from_a_missing_one(
    parley_server: ParleyServer, url_rules: list[Rule], private_sid: str
) -> None:
    carol = ApiClient(parley_server.url).login("carol", parley_server.password)
    named = [(m, r) for m, r in _calls(url_rules) if "<sid>" in r.rule]
    assert {r.endpoint for _, r in named} >= {"chat.conversation", "api.send_message"}
    for method, rule in named:
        answers = []
        for sid in (private_sid, UNKNOWN_SID):
            answers.append(
                carol.session.request(
                    method,
                    carol.base_url + _path(rule, sid),
                    json=PLAUSIBLE_BODIES.get(rule.endpoint, {}) if method != "GET" else None,
                    headers={"X-CSRFToken": carol.csrf_token},
                    allow_redirects=False,
                    timeout=10,
                )
            )
        real, missing = answers
        assert real.status_code == missing.status_code == 404, f"{method} {rule.rule}"
        if ROUTES[rule.endpoint] == API:
            assert real.json() == missing.json()


def test_an_outsider_sees_nothing_of_it_in_lists_tokens_or_the_stream(
    parley_server: ParleyServer, private_sid: str
) -> None:
    alice = ApiClient(parley_server.url).login("alice", parley_server.password)
    carol = ApiClient(parley_server.url).login("carol", parley_server.password)
    listed = carol.get("/api/conversations").json()["conversations"]
    assert private_sid not in {c["sid"] for c in listed}
    assert carol.get("/api/token", params={"identity": "alice"}).json()["identity"] == "carol"

    reader = StreamReader(carol)
    try:
        reader.wait_for("resync")
        assert alice.send(private_sid, "for bob only").status_code == 201
        leaked = [e for e in reader.drain(1.5) if private_sid in str(e.data)]
        assert leaked == []
    finally:
        reader.close()


def test_an_outsider_cannot_tell_a_private_file_from_a_missing_one(
    parley_server: ParleyServer, private_sid: str
) -> None:
    alice = ApiClient(parley_server.url).login("alice", parley_server.password)
    carol = ApiClient(parley_server.url).login("carol", parley_server.password)
    uploaded = alice.session.post(
        f"{alice.base_url}/api/conversations/{private_sid}/media",
        data=b"%PDF-1.4 private",
        headers={"Content-Type": "application/pdf", "X-CSRFToken": alice.csrf_token},
        timeout=10,
    )
    assert uploaded.status_code == 201, uploaded.text
    media_sid = uploaded.json()["media"]["sid"]
    real, missing = (carol.get(f"/api/media/{sid}") for sid in (media_sid, UNKNOWN_MEDIA_SID))
    assert real.status_code == missing.status_code == 404
    assert real.json() == missing.json()
    sent = alice.post(f"/api/conversations/{private_sid}/messages", {"media_sids": [media_sid]})
    assert sent.status_code == 201, sent.text
    real = carol.get(f"/api/media/{media_sid}")
    assert real.status_code == 404 and real.json() == missing.json()
    assert alice.get(f"/api/media/{media_sid}").status_code == 200
