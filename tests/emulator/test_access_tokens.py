"""Access tokens: the emulator accepts the JWTs Parley issues in `X-Twilio-Token` (signature,
expiry, grant checked) and lets the caller act as the token's identity, in its own
conversations only. Tokens come from Parley's own `issue_access_token` (real signatures), or
are built with the `twilio` library and PyJWT to be tampered, expired or wrongly granted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.response import Response as TwilioResponse
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import ChatGrant, VideoGrant
from twilio.rest import Client

from tests.emulator.conftest import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_SERVICE_SID,
    ContractChecker,
    RecordingHttpClient,
    RunningEmulator,
    WebhookReceiver,
)
from twilio_emulator.credentials import EMULATOR_API_KEY_SECRET, EMULATOR_API_KEY_SID
from webapp.config import Config
from webapp.twilio_gateway.tokens import issue_access_token

OTHER_SERVICE = "IS" + "1" * 32


class TokenHttpClient(RecordingHttpClient):
    """Sends an access token in `X-Twilio-Token` instead of basic auth, as Twilio's SDKs do."""

    def __init__(self, origin: str, token: str) -> None:
        super().__init__(origin)
        self.token = token

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        headers = {**(headers or {}), "X-Twilio-Token": self.token}
        return super().request(method, url, params, data, headers, None, timeout, allow_redirects)


@pytest.fixture
def as_token(emulator: RunningEmulator, contract: ContractChecker) -> Iterator[Any]:
    """``as_token(jwt)`` → the Conversations v1 API of a client authenticated by that token;
    every response it got is held to Twilio's spec afterwards."""
    made: list[TokenHttpClient] = []

    def client(token: str) -> Any:
        http = TokenHttpClient(emulator.url, token)
        made.append(http)
        return Client(EMULATOR_ACCOUNT_SID, "not-used", http_client=http).conversations.v1

    yield client
    for http in made:
        for exchange in http.exchanges:
            contract.check(exchange)


def parley_token(identity: str) -> str:
    """A token exactly as Parley's `GET /api/token` issues it in emulator mode."""
    config = Config.from_env({"SECRET_KEY": "access-token-tests"}, require_service_sid=False)
    return issue_access_token(config, identity)


def error_of(call: Any) -> tuple[int, int]:
    """(HTTP status, Twilio code) of a refused call; list calls raise the library's plain
    `TwilioException` carrying the response, the others `TwilioRestException`."""
    with pytest.raises(TwilioException) as caught:
        call()
    if isinstance(caught.value, TwilioRestException):
        return caught.value.status, caught.value.code
    response = caught.value.args[1]
    return response.status_code, json.loads(response.text)["code"]


def test_a_parley_token_acts_as_its_identity_in_its_own_conversations(
    emulator: RunningEmulator, receiver: WebhookReceiver, as_token: Any
) -> None:
    admin = emulator.client.conversations.v1
    ours = admin.conversations.create(friendly_name="ours")
    for identity in ("alice", "bob"):
        admin.conversations(ours.sid).participants.create(identity=identity)
    theirs = admin.conversations.create(friendly_name="theirs")
    admin.conversations(theirs.sid).participants.create(identity="bob")
    alice = as_token(parley_token("alice"))

    assert [c.sid for c in alice.conversations.list()] == [ours.sid]
    assert alice.conversations(ours.sid).fetch().friendly_name == "ours"
    sent = alice.conversations(ours.sid).messages.create(author="mallory", body="hi")
    assert sent.author == "alice"  # the token's identity, whatever Author said
    assert [m.body for m in alice.conversations(ours.sid).messages.list()] == ["hi"]
    assert alice.conversations(ours.sid).messages(sent.sid).update(body="hi!").body == "hi!"
    assert len(alice.conversations(ours.sid).participants.list()) == 2

    # An SDK client's changes fire webhooks without any header, with Source=SDK.
    emulator.wait_idle()
    added = [h for h in receiver.received if h.params["EventType"] == "onMessageAdded"]
    assert [(h.params["Author"], h.params["Source"]) for h in added] == [("alice", "SDK")]
    assert added[0].params["ClientIdentity"] == "alice"
    admin.conversations(ours.sid).messages.create(body="server", x_twilio_webhook_enabled="true")
    emulator.wait_idle()
    (server_made,) = [h for h in receiver.received if h.params.get("Body") == "server"]
    assert server_made.params["Source"] == "API" and "ClientIdentity" not in server_made.params

    assert error_of(alice.conversations(theirs.sid).fetch) == (403, 50430)
    assert error_of(alice.conversations(theirs.sid).messages.list) == (403, 50430)
    assert error_of(lambda: alice.conversations(theirs.sid).messages.create(body="x")) == (
        403,
        50430,
    )
    assert error_of(alice.conversations("CH" + "0" * 32).fetch) == (404, 20404)


def test_a_token_changes_only_its_own_messages_and_participant(
    emulator: RunningEmulator, as_token: Any
) -> None:
    admin = emulator.client.conversations.v1
    conv = admin.conversations.create()
    for identity in ("alice", "bob"):
        admin.conversations(conv.sid).participants.create(identity=identity)
    bobs = admin.conversations(conv.sid).messages.create(author="bob", body="bob's")
    alice = as_token(parley_token("alice")).conversations(conv.sid)

    assert error_of(lambda: alice.messages(bobs.sid).update(body="mine now")) == (403, 20403)
    assert error_of(alice.messages(bobs.sid).delete) == (403, 20403)
    assert alice.participants("alice").update(last_read_message_index=0).identity == "alice"
    assert error_of(lambda: alice.participants("bob").update(attributes="{}")) == (403, 20403)
    own = alice.messages.create(body="mine")
    assert alice.messages(own.sid).delete() is True
    assert alice.participants.create(identity="carol").identity == "carol"
    assert alice.participants("alice").delete() is True  # leaving is allowed
    assert error_of(alice.fetch) == (403, 50430)  # and then it is no longer in it


def test_server_side_operations_refuse_tokens(emulator: RunningEmulator, as_token: Any) -> None:
    conv = emulator.client.conversations.v1.conversations.create()
    emulator.client.conversations.v1.conversations(conv.sid).participants.create(identity="alice")
    alice = as_token(parley_token("alice"))
    assert error_of(alice.conversations.create) == (403, 20403)
    assert error_of(alice.conversations(conv.sid).delete) == (403, 20403)
    assert error_of(alice.conversations(conv.sid).webhooks.list) == (403, 20403)
    assert error_of(alice.users.list) == (403, 20403)
    assert error_of(alice.services.list) == (403, 20403)
    assert error_of(alice.configuration().fetch) == (403, 20403)


def test_the_service_path_form_checks_the_grant_against_the_path(
    emulator: RunningEmulator, as_token: Any
) -> None:
    admin = emulator.client.conversations.v1
    conv = admin.conversations.create()
    admin.conversations(conv.sid).participants.create(identity="alice")
    alice = as_token(parley_token("alice"))
    assert alice.services(EMULATOR_SERVICE_SID).conversations(conv.sid).fetch().sid == conv.sid
    assert error_of(alice.services(OTHER_SERVICE).conversations(conv.sid).fetch) == (401, 20101)


def _token(
    *,
    key_sid: str = EMULATOR_API_KEY_SID,
    secret: str = EMULATOR_API_KEY_SECRET,
    account_sid: str = EMULATOR_ACCOUNT_SID,
    ttl: int = 3600,
    nbf: int | None = None,
    grant: Any = "chat",
) -> str:
    token = AccessToken(account_sid, key_sid, secret, identity="alice", ttl=ttl, nbf=nbf)
    if grant == "chat":
        token.add_grant(ChatGrant(service_sid=EMULATOR_SERVICE_SID))
    elif grant is not None:
        token.add_grant(grant)
    jwt_ = token.to_jwt()
    return jwt_.decode() if isinstance(jwt_, bytes) else jwt_


def _tampered() -> str:
    header, payload, signature = parley_token("alice").split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["grants"]["identity"] = "bob"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{forged}.{signature}"


def _with_header(**header: str) -> str:
    claims = jwt.decode(parley_token("alice"), options={"verify_signature": False})
    return jwt.encode(claims, EMULATOR_API_KEY_SECRET, algorithm="HS256", headers=header)


BAD_TOKENS = {
    "not a JWT": (lambda: "not-a-token", 20101),
    "payload tampered (identity changed)": (_tampered, 20107),
    "signed with another secret": (lambda: _token(secret="x" * 32), 20107),
    "unknown API key": (lambda: _token(key_sid="SK" + "1" * 32), 20103),
    "another account": (lambda: _token(account_sid="AC" + "1" * 32), 20103),
    "expired": (lambda: _token(ttl=-60), 20104),
    "lives longer than 24 hours": (lambda: _token(ttl=25 * 3600), 20104),
    "not valid yet": (lambda: _token(nbf=int(time.time()) + 600), 20105),
    "no grant at all": (lambda: _token(grant=None), 20101),
    "a video grant, no chat grant": (lambda: _token(grant=VideoGrant(room="r")), 20101),
    "a chat grant for another service": (
        lambda: _token(grant=ChatGrant(service_sid=OTHER_SERVICE)),
        20101,
    ),
    "wrong content type": (lambda: _with_header(cty="JWT"), 20102),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_tokens_get_twilios_401_and_code(
    emulator: RunningEmulator, as_token: Any, case: str
) -> None:
    make, code = BAD_TOKENS[case]
    conv = emulator.client.conversations.v1.conversations.create()
    emulator.client.conversations.v1.conversations(conv.sid).participants.create(identity="alice")
    caller = as_token(make())
    assert error_of(caller.conversations(conv.sid).fetch) == (401, code)
    assert error_of(caller.conversations.list) == (401, code)
