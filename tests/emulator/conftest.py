"""Fixtures for the emulator's tests: the emulator on a real port, the official `twilio`
client pointed at it, a webhook receiver, and a checker that holds every response to Twilio's
OpenAPI spec (kept unchanged in ``twilio_emulator/twilio-oai``, MIT licensed)."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client
from werkzeug.wrappers import Request, Response

from tests.support.servers import Served
from twilio_emulator import EmulatorSettings, EmulatorState, create_emulator_app, mcs
from twilio_emulator.credentials import (
    EMULATOR_ACCOUNT_SID,
    EMULATOR_AUTH_TOKEN,
    EMULATOR_SERVICE_SID,
)
from twilio_emulator.params import SPEC_PATH, template

TWILIO_HOST = "https://conversations.twilio.com"
WAIT = 10.0


@dataclass
class Exchange:
    """One request the `twilio` library made, as it addressed Twilio, and the answer."""

    method: str
    url: str
    params: dict[str, Any]
    data: dict[str, Any]
    headers: dict[str, str]
    status: int
    body: str


class RecordingHttpClient(TwilioHttpClient):
    """Sends `*.twilio.com` requests to the emulator (path and query kept); records each."""

    def __init__(self, origin: str) -> None:
        super().__init__(timeout=WAIT)
        self.origin = origin
        self.exchanges: list[Exchange] = []

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        parts = urlsplit(url)
        target = self.origin + parts.path + (f"?{parts.query}" if parts.query else "")
        response = super().request(
            method, target, params, data, headers, auth, timeout, allow_redirects
        )
        query = dict(parse_qsl(parts.query)) | dict(params or {})
        self.exchanges.append(
            Exchange(
                method,
                f"{TWILIO_HOST}{parts.path}",
                query,
                dict(data or {}),
                dict(headers or {}),
                response.status_code,
                response.text,
            )
        )
        return response


class ContractChecker:
    """Holds responses to Twilio's spec: openapi-core validation, the exact field set of each
    resource's component schema (resolved from the spec, never copied), Twilio's error shape."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.openapi = OpenAPI.from_dict(spec)
        self.checked: set[str] = set()
        self._templates = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path)
            for path in spec["paths"]
        ]

    def check(self, exchange: Exchange) -> None:
        if exchange.status >= 400:
            self.check_error(exchange.status, json.loads(exchange.body))
            return
        path = urlsplit(exchange.url).path
        template = self.template(path)
        method = exchange.method.lower()
        operation = self.spec["paths"][template][method]
        self.checked.add(operation["operationId"])
        assert str(exchange.status) in operation["responses"], (exchange.status, template)
        if exchange.status == 204:
            assert exchange.body == ""
            return
        request = MockRequest(
            TWILIO_HOST,
            method,
            path,
            args=exchange.params,
            headers=exchange.headers,
            content_type="application/x-www-form-urlencoded",
        )
        response = MockResponse(exchange.body.encode(), status_code=exchange.status)
        self.openapi.validate_response(request, response)
        schema = self.resolve(
            operation["responses"][str(exchange.status)]["content"]["application/json"]["schema"]
        )
        self.check_fields(schema, json.loads(exchange.body))

    def template(self, path: str) -> str:
        matches = [template for regex, template in self._templates if regex.match(path)]
        assert matches, f"no spec path for {path}"
        return min(matches, key=lambda t: t.count("{"))

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].removeprefix("#/components/schemas/")
            schema = self.spec["components"]["schemas"][name]
        return schema

    def check_fields(self, schema: dict[str, Any], body: dict[str, Any]) -> None:
        """The body has exactly the schema's properties; list items exactly their item's."""
        properties = schema["properties"]
        assert set(body) == set(properties), (set(body) ^ set(properties), schema.get("title"))
        for name, prop in properties.items():
            prop = self.resolve(prop)
            if prop.get("type") == "array" and "$ref" in prop.get("items", {}):
                item_schema = self.resolve(prop["items"])
                for item in body[name]:
                    self.check_fields(item_schema, item)
            elif name == "meta":
                assert set(body["meta"]) == set(prop["properties"])

    @staticmethod
    def check_error(status: int, body: dict[str, Any]) -> None:
        assert set(body) == {"code", "message", "more_info", "status"}, body
        assert body["status"] == status
        assert isinstance(body["code"], int) and isinstance(body["message"], str)
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"


@pytest.fixture(scope="session")
def contract() -> ContractChecker:
    return ContractChecker(json.loads(SPEC_PATH.read_text()))


@dataclass
class ReceivedWebhook:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]


@dataclass
class WebhookReceiver:
    """A real endpoint recording webhook requests; answers each with the next scripted reply
    (`replies`: status and JSON body; else `statuses`: status only; else 200), after `gate`
    opens if there is one."""

    statuses: deque[int] = field(default_factory=deque)
    replies: deque[tuple[int, str]] = field(default_factory=deque)
    received: list[ReceivedWebhook] = field(default_factory=list)
    gate: threading.Event | None = None  # when set, each request waits for it to open
    _arrived: threading.Condition = field(default_factory=threading.Condition)
    served: Served | None = None

    @property
    def url(self) -> str:
        assert self.served is not None
        return self.served.url + "/twilio/webhook"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        source = request.args if request.method == "GET" else request.form
        hit = ReceivedWebhook(
            request.method, request.url, dict(request.headers), dict(source.items())
        )
        with self._arrived:
            self.received.append(hit)
            if self.replies:
                status, body = self.replies.popleft()
            else:
                status, body = (self.statuses.popleft() if self.statuses else 200), ""
            self._arrived.notify_all()
        if self.gate is not None:
            self.gate.wait(WAIT)
        mimetype = "application/json" if body else "text/plain"
        return Response(body, status=status, mimetype=mimetype)(environ, start_response)

    def wait_for(self, count: int, timeout: float = WAIT) -> list[ReceivedWebhook]:
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            assert arrived, f"expected {count} webhooks, got {len(self.received)}"
            return list(self.received)

    def events(self) -> list[str]:
        with self._arrived:
            return [hit.params["EventType"] for hit in self.received]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.served = Served(receiver)
    yield receiver
    receiver.served.stop()


@pytest.fixture
def second_receiver() -> Iterator[WebhookReceiver]:
    """Another endpoint, for a conversation-scoped or pre-event webhook beside `receiver`."""
    receiver = WebhookReceiver()
    receiver.served = Served(receiver)
    yield receiver
    receiver.served.stop()


@dataclass
class RunningEmulator:
    served: Served
    state: EmulatorState
    http: RecordingHttpClient
    client: Client

    @property
    def url(self) -> str:
        return self.served.url

    def routed(self) -> set[tuple[str, str]]:
        """(path in the spec's form, lowercase method) of every REST route it answers."""
        app = self.served.server.app  # type: ignore[attr-defined]
        return {
            (template(rule.rule), method.lower())
            for rule in app.url_map.iter_rules()
            for method in rule.methods or ()
        }

    def wait_idle(self) -> None:
        assert self.state.wait_idle(WAIT), "webhook queue did not drain"


def start_emulator(settings: EmulatorSettings) -> RunningEmulator:
    app = create_emulator_app(settings)
    served = Served(app)
    http = RecordingHttpClient(served.url)
    client = Client(settings.account_sid, settings.auth_token, http_client=http)
    return RunningEmulator(served, app.extensions["twilio_emulator"], http, client)


@pytest.fixture
def emulator(receiver: WebhookReceiver, contract: ContractChecker) -> Iterator[RunningEmulator]:
    """The emulator on a real port, posting webhooks to `receiver`. On teardown every
    response the `twilio` library received is checked against Twilio's spec."""
    running = start_emulator(
        EmulatorSettings(post_webhook_url=receiver.url, webhook_retry_delay=0.05)
    )
    yield running
    running.state.close()
    running.served.stop()
    for exchange in running.http.exchanges:
        contract.check(exchange)


@pytest.fixture(params=["service", "default"])
def api(request: pytest.FixtureRequest, emulator: RunningEmulator) -> Any:
    """The same operations through both path forms: `/v1/Services/{sid}/...` and `/v1/...`."""
    v1 = emulator.client.conversations.v1
    return v1.services(EMULATOR_SERVICE_SID) if request.param == "service" else v1


# -- the Media Content Service ---------------------------------------------------------------

AUTH = (EMULATOR_ACCOUNT_SID, EMULATOR_AUTH_TOKEN)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MCS_HOST = "https://mcs.us1.twilio.com"


class McsChecker:
    """Holds every MCS answer to the emulator's MCS schema (openapi-core, like the
    Conversations answers are held to Twilio's spec), and error bodies to Twilio's shape."""

    def __init__(self) -> None:
        self.openapi = OpenAPI.from_dict(yaml.safe_load(mcs.SPEC_PATH.read_text()))

    def check(self, method: str, path: str, response: requests.Response) -> None:
        if response.status_code >= 400:
            ContractChecker.check_error(response.status_code, response.json())
        if path.endswith("/Content") or not path.startswith("/v1/"):
            return  # bytes: nothing to validate but the status, which the tests check
        request = MockRequest(MCS_HOST, method.lower(), path)
        answer = MockResponse(
            response.content,
            status_code=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
        )
        self.openapi.validate_response(request, answer)


class Mcs:
    """The emulator's MCS at `<emulator>/mcs`, as Parley would reach `mcs.us1.twilio.com`."""

    def __init__(self, origin: str, checker: McsChecker) -> None:
        self.origin = origin + mcs.MOUNT_PATH
        self.checker = checker

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("auth", AUTH)
        response = requests.request(method, self.origin + path, timeout=30, **kwargs)
        self.checker.check(method, path, response)
        return response

    def upload(
        self, data: bytes, content_type: str, service: str = EMULATOR_SERVICE_SID
    ) -> dict[str, Any]:
        response = self.call(
            "POST",
            f"/v1/Services/{service}/Media",
            data=data,
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def upload_file(self, data: bytes, filename: str, content_type: str) -> dict[str, Any]:
        response = self.call(
            "POST",
            f"/v1/Services/{EMULATOR_SERVICE_SID}/Media",
            files={"Media": (filename, data, content_type)},
            data={"FileName": filename},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="session")
def mcs_checker() -> McsChecker:
    return McsChecker()


__all__ = [
    "AUTH",
    "EMULATOR_ACCOUNT_SID",
    "EMULATOR_AUTH_TOKEN",
    "EMULATOR_SERVICE_SID",
    "WAIT",
    "PNG",
    "Mcs",
    "McsChecker",
    "RunningEmulator",
    "Served",
    "WebhookReceiver",
    "start_emulator",
]
