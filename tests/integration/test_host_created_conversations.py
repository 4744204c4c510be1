"""A host site that made its conversations before Parley (over real HTTP: gunicorn + gevent,
Redis, the emulator): its backend names users ``42`` and ``43`` through Twilio's User resource
and creates a conversation between them with the ``twilio`` library, as the seed did; then
both sign in for the first time and find it, with its history and the host's names, live.

This Parley runs with ``PARLEY_DIRECTORY=off``, as such a site would: nobody searches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twilio.rest import Client

from tests.support import host_site
from tests.support.clients import ApiClient, StreamReader
from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID
from webapp.twilio_gateway.client import EmulatorHttpClient

WEBHOOKS_ON = "true"


@pytest.fixture(scope="module")
def host_parley(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParleyServer]:
    tmp = tmp_path_factory.mktemp("parley-host-made")
    with host_site.trusting_parley(tmp, PARLEY_DIRECTORY="off") as server:
        yield server


def host_twilio(server: ParleyServer) -> Any:
    """The host backend's own ``twilio`` client and service, aimed at this Parley's emulator."""
    client = Client(
        EMULATOR_ACCOUNT_SID,
        server.auth_token,
        http_client=EmulatorHttpClient(server.url + "/_emulator"),
    )
    return client.conversations.v1.services(EMULATOR_SERVICE_SID)


def first_sign_in(server: ParleyServer, identity: str, **claims: Any) -> ApiClient:
    return host_site.signed_in(server.url, identity, **claims)


def test_a_conversation_the_host_made_is_there_at_first_sign_in_with_history_and_names(
    host_parley: ParleyServer,
) -> None:
    service = host_twilio(host_parley)
    service.users.create(identity="42", friendly_name="Ada from the host")
    service.users.create(identity="43", friendly_name="Grace from the host")
    made = service.conversations.create(
        friendly_name="Project 42", x_twilio_webhook_enabled=WEBHOOKS_ON
    )
    for identity in ("42", "43", "44"):  # 44 never signs in to Parley
        made.participants.create(identity=identity, x_twilio_webhook_enabled=WEBHOOKS_ON)
    made.messages.create(author="42", body="made by the host", x_twilio_webhook_enabled=WEBHOOKS_ON)

    # Signed in without a `name` claim: the names are the ones the host set in Twilio.
    ada, grace = first_sign_in(host_parley, "42"), first_sign_in(host_parley, "43")
    stream = StreamReader(grace, grace.stream_cursor())
    try:
        listed = ada.get("/api/conversations").json()
        assert [c["sid"] for c in listed["conversations"]] == [made.sid]
        assert listed["conversations"][0]["participants"] == ["42", "43", "44"]
        assert listed["names"] == {
            "42": "Ada from the host",
            "43": "Grace from the host",
            "44": "44",  # no name anywhere yet: the identity stands in
        }
        wait_until(
            lambda: grace.get(f"/api/conversations/{made.sid}").status_code == 200,
            5,
            "43 to be a member",
        )
        history = grace.get(f"/api/conversations/{made.sid}/messages").json()
        assert [(m["author"], m["body"]) for m in history["messages"]] == [
            ("42", "made by the host")
        ]
        assert history["names"] == {"42": "Ada from the host"}

        assert ada.send(made.sid, "now live in Parley").status_code == 201
        live = stream.wait_for(
            "message_added", lambda d: d["message"]["body"] == "now live in Parley"
        )
        assert live.data["message"]["author"] == "42"
        # Signing in without a name did not overwrite the host's names in Twilio.
        assert service.users("42").fetch().friendly_name == "Ada from the host"
    finally:
        stream.close()


def test_a_name_from_sign_in_reaches_twilio_and_the_pages(host_parley: ParleyServer) -> None:
    service = host_twilio(host_parley)
    first_sign_in(host_parley, "user|50", name="Fifty")
    assert service.users("user|50").fetch().friendly_name == "Fifty"  # created by Parley
    other = first_sign_in(host_parley, "51", name="Fifty-One")
    made = service.conversations.create(x_twilio_webhook_enabled=WEBHOOKS_ON)
    for identity in ("user|50", "51"):
        made.participants.create(identity=identity, x_twilio_webhook_enabled=WEBHOOKS_ON)
    # Membership reaches Parley by webhook, a moment after Twilio answered the host.
    wait_until(
        lambda: other.get(f"/api/conversations/{made.sid}").status_code == 200,
        5,
        "51 to be a member",
    )
    assert other.get(f"/api/conversations/{made.sid}").json()["names"]["user|50"] == "Fifty"

    renamed = first_sign_in(host_parley, "user|50", name="Fifty, renamed")
    assert service.users("user|50").fetch().friendly_name == "Fifty, renamed"
    wait_until(
        lambda: (
            other.get(f"/api/conversations/{made.sid}").json()["names"]["user|50"]
            == "Fifty, renamed"
        ),
        5,
        "the new name to show",
    )
    assert renamed.get("/api/users?q=fi").status_code == 404


def test_without_a_directory_searching_is_404_and_says_why(host_parley: ParleyServer) -> None:
    who = first_sign_in(host_parley, "60", name="Sixty")
    answer = who.get("/api/users?q=si")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "directory_off"
    assert 'data-directory="off"' in who.get("/").text
