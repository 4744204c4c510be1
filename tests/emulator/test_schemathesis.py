"""Twilio's own OpenAPI spec run against the emulator over real HTTP by schemathesis: every
operation the emulator serves, generated valid and invalid requests, no 5xx, and each answer as
the spec describes it.

Path SIDs are pointed at resources that exist (recreated when a generated DELETE removed them),
so requests reach the emulator's logic instead of stopping at 404. Checks disabled, and why:

- `status_code_conformance`: Twilio's spec lists only each operation's success status, never its
  4xx, though Twilio answers 400/404/409 with its error JSON. `twilio_status` checks the same
  thing as far as the spec says it: a 2xx is the one the spec names, anything else is a 4xx in
  Twilio's error shape.
- `negative_data_rejection` / `positive_data_acceptance`: Twilio ignores parameters it does not
  know and refuses values its spec allows (a unique name already taken, a Body-less message, a
  state change it does not permit), so "invalid means 4xx, valid means 2xx" does not hold for
  Twilio itself.

Bounded by `EXAMPLES` per operation (about a minute and a half on a busy 2-core machine); under
CI the `ci` hypothesis profile (tests/conftest.py) derandomizes it, and schemathesis then uses
no seed of its own, so every CI run sends the same requests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from tests.emulator.conftest import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_AUTH_TOKEN,
    EMULATOR_SERVICE_SID,
    ContractChecker,
    RunningEmulator,
    start_emulator,
)
from twilio_emulator import EmulatorSettings
from twilio_emulator.errors import TwilioError
from twilio_emulator.params import SPEC_PATH, template
from twilio_emulator.store import WebhookSpec

#: Operations of Twilio's spec the emulator does not serve (Parley uses none of them); the
#: test below keeps this list equal to what the emulator really leaves out.
NOT_EMULATED = (
    "ListConfigurationAddress",
    "CreateConfigurationAddress",
    "FetchConfigurationAddress",
    "UpdateConfigurationAddress",
    "DeleteConfigurationAddress",
    "CreateConversationWithParticipants",
    "CreateServiceConversationWithParticipants",
    "CreateCredential",
    "ListCredential",
    "UpdateCredential",
    "DeleteCredential",
    "FetchCredential",
    "CreateRole",
    "ListRole",
    "UpdateRole",
    "DeleteRole",
    "FetchRole",
    "CreateServiceRole",
    "ListServiceRole",
    "UpdateServiceRole",
    "DeleteServiceRole",
    "FetchServiceRole",
    "DeleteServiceBinding",
    "FetchServiceBinding",
    "ListServiceBinding",
    "UpdateServiceNotification",
    "FetchServiceNotification",
    "DeleteUserConversation",
    "DeleteServiceUserConversation",
)
AUTH = (EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN)
#: Bounded for a busy 2-core machine: about a minute for the ~64 operations.
EXAMPLES = 12
HOOK = WebhookSpec(url="https://example.com/hook", filters=("onMessageAdded",))

schema = schemathesis.openapi.from_path(SPEC_PATH).exclude(operation_id=list(NOT_EMULATED))


@dataclass
class Seeded:
    """Resources the generated requests are pointed at, recreated when they are gone."""

    emulator: RunningEmulator
    conversation: str = ""
    participant: str = ""
    message: str = ""
    webhook: str = ""
    user: str = ""

    def ensure(self) -> None:
        """Recreate what is gone; start on a fresh conversation if the old one no longer takes
        them (closed by a generated update, or full of generated webhooks)."""
        try:
            self._ensure()
        except TwilioError:
            self.conversation = ""
            self._ensure()

    def _ensure(self) -> None:
        store = self.emulator.state.store
        service = EMULATOR_SERVICE_SID
        if not _exists(lambda: store.get_conversation(service, self.conversation)):
            self.conversation = store.create_conversation(
                service,
                friendly_name="fuzz",
                unique_name=None,
                attributes=None,
                state=None,
                source=None,
            ).sid
        if not _exists(lambda: store.get_participant(service, self.conversation, self.participant)):
            self.participant = store.create_participant(
                service,
                self.conversation,
                identity="fuzz-alice",
                address=None,
                proxy_address=None,
                attributes=None,
                source=None,
            ).sid
        if not _exists(lambda: store.get_message(service, self.conversation, self.message)):
            self.message = store.create_message(
                service,
                self.conversation,
                author="fuzz-alice",
                body="hi",
                attributes=None,
                source=None,
                date_created=None,
                date_updated=None,
            ).sid
        if not _exists(
            lambda: store.get_conversation_webhook(service, self.conversation, self.webhook)
        ):
            self.webhook = store.create_conversation_webhook(
                service, self.conversation, target="webhook", spec=HOOK
            ).sid
        if not _exists(lambda: store.get_user(service, self.user)):
            self.user = store.create_user(
                service, identity="fuzz-bob", friendly_name=None, attributes=None
            ).sid

    def path_sids(self, path: str) -> dict[str, str]:
        """The SID each path parameter of `path` should carry."""
        found = {
            "ChatServiceSid": EMULATOR_SERVICE_SID,
            "ConversationSid": self.conversation,
            "MessageSid": self.message,
            "UserSid": self.user,
        }
        last = {
            "Services": EMULATOR_SERVICE_SID,
            "Conversations": self.conversation,
            "Participants": self.participant,
            "Messages": self.message,
            "Webhooks": self.webhook,
            "Users": self.user,
        }
        before_sid = re.search(r"/(\w+)/\{Sid\}$", path)
        if before_sid and before_sid.group(1) in last:
            found["Sid"] = last[before_sid.group(1)]
        return found


def _exists(fetch: Callable[[], object]) -> bool:
    try:
        fetch()
    except TwilioError:
        return False
    return True


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    running = start_emulator(EmulatorSettings())
    yield Seeded(running)
    running.state.close()
    running.served.stop()


def twilio_status(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A success is the status the spec names; anything else a 4xx in Twilio's error shape.
    A method the spec does not list for the path is a 405 (OPTIONS: werkzeug's 200 + Allow)."""
    if case.method.lower() != case.operation.method.lower():
        if case.method.upper() == "OPTIONS":
            assert response.status_code == 200 and "allow" in response.headers
            return
        assert response.status_code == 405, response.status_code
        ContractChecker.check_error(405, json.loads(response.content))
        return
    documented = set(case.operation.definition.raw["responses"])
    if 200 <= response.status_code < 300:
        assert str(response.status_code) in documented, (response.status_code, documented)
    else:
        assert 400 <= response.status_code < 500, response.status_code
        ContractChecker.check_error(response.status_code, json.loads(response.content))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_twilios_spec_against_the_emulator(seeded: Seeded, case: schemathesis.Case) -> None:
    seeded.ensure()
    if case.path_parameters:
        wanted = seeded.path_sids(case.path)
        for name in case.path_parameters:
            if name in wanted:
                case.path_parameters[name] = wanted[name]
    case.call_and_validate(
        base_url=seeded.emulator.url,
        auth=AUTH,
        timeout=10,
        checks=[
            not_a_server_error,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
            twilio_status,
        ],
    )


def test_the_excluded_operations_are_exactly_those_the_emulator_does_not_serve(
    seeded: Seeded,
) -> None:
    routed = seeded.emulator.routed()
    raw = json.loads(SPEC_PATH.read_text())
    unserved = {
        operation["operationId"]
        for path, item in raw["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
        and "operationId" in operation
        and (template(path), method) not in routed
    }
    assert unserved == set(NOT_EMULATED)
