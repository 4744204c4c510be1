"""A hiccup between Parley and Twilio is not a 500: Parley (gunicorn) talks to the emulator
through a proxy that drops keep-alive connections, loses answers, or is not there at all."""

from __future__ import annotations

import io
import re
import socket
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.routing import Rule

from tests.security.conftest import app_for
from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer, Served, run_parley
from twilio_emulator import EmulatorSettings, create_emulator_app
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID
from webapp import create_app
from webapp.config import Config
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.client import IDLE_LIMIT, ParleyHttpClient, TwilioUnreachable
from webapp.twilio_gateway.media import MediaGateway

#: Parley's answer when Twilio cannot be reached, whatever the route.
UNREACHABLE = {"code": "twilio_unavailable", "message": "Twilio could not be reached; try again."}
#: Headers that belong to one hop, not to the request or answer the proxy passes on.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Proxy:
    """What the proxy does to the connections Parley opens to Twilio (the emulator behind).

    ``drop_reused``: the second request on a connection gets no answer: the connection is
    closed (``reset``: reset) as a peer closing an idle keep-alive connection does when the
    client's next request crosses the close. ``lose_answer``: a request it picks reaches the
    emulator (which acts on it) but its answer is lost with the connection. ``silent``: no
    request gets an answer until the test ends (a Twilio that hangs).
    """

    upstream: str
    drop_reused: bool = False
    reset: bool = False
    lose_answer: Callable[[str, str], bool] = lambda method, path: False  # (method, path)
    silent: bool = False
    released: threading.Event = field(default_factory=threading.Event)
    forwarded: list[tuple[str, str]] = field(default_factory=list)
    connections: list[socket.socket] = field(default_factory=list)
    dropped: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        """Stop listening and end every open connection: Twilio cannot be reached."""
        assert self.server is not None
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
        for connection in self.connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the emulator and Twilio do
    served_here = 0  # requests answered on this connection (one handler per connection)

    def setup(self) -> None:
        super().setup()
        self.server.proxy.connections.append(self.connection)  # type: ignore[attr-defined]

    def _relay(self) -> None:
        proxy: Proxy = self.server.proxy  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if proxy.silent:
            proxy.released.wait(60)
            return self._drop(proxy)
        if proxy.drop_reused and self.served_here:
            return self._drop(proxy)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        answer = requests.request(
            self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=10
        )
        proxy.forwarded.append((self.command, self.path))
        if proxy.lose_answer(self.command, self.path):
            return self._drop(proxy)
        self.served_here += 1
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in HOP_BY_HOP | {"content-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def _drop(self, proxy: Proxy) -> None:
        proxy.dropped += 1
        self.close_connection = True
        if proxy.reset:  # linger 0: close() sends RST, the client reads ECONNRESET
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    do_GET = do_POST = do_DELETE = do_PATCH = _relay

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@contextmanager
def serving(proxy: Proxy) -> Iterator[Proxy]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
    server.daemon_threads = True
    server.proxy = proxy  # type: ignore[attr-defined]
    proxy.server = server
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield proxy
    finally:
        proxy.stop()
        thread.join(10)


#: The auth token Parley signs and authenticates with, and the emulator expects.
TOKEN = "hiccup-test-auth-token"


@dataclass
class Stack:
    proxy: Proxy
    parley: ParleyServer
    alice: ApiClient

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        client = self.alice
        return client.session.request(
            method,
            client.base_url + path,
            json=body,
            headers={"X-CSRFToken": client.csrf_token},
            timeout=30,
        )

    def new_group(self) -> str:
        """A conversation of the test's own (alice and bob), whatever ran before it."""
        name = f"group {uuid.uuid4().hex[:8]}"
        answer = self.alice.post(
            "/api/conversations", {"participants": ["bob"], "friendly_name": name}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["conversation"]["sid"])


@contextmanager
def hiccup_stack(tmp: Path) -> Iterator[Stack]:
    """Parley under gunicorn, its Twilio the emulator behind a :class:`Proxy` (passing
    everything through until the test says otherwise), and alice logged in."""
    emulator = create_emulator_app(
        EmulatorSettings(auth_token=TOKEN, post_webhook_url=None, webhook_retries=0)
    )
    served = Served(emulator)
    try:
        with (
            serving(Proxy(served.url)) as proxy,
            run_parley(tmp, TWILIO_EMULATOR_URL=proxy.url, TWILIO_AUTH_TOKEN=TOKEN) as parley,
        ):
            yield Stack(proxy, parley, ApiClient(parley.url).login("alice", parley.password))
    finally:
        served.stop()
        emulator.extensions["twilio_emulator"].close()


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with hiccup_stack(tmp_path_factory.mktemp("hiccups")) as stack:
        yield stack


@pytest.fixture
def stack(shared_stack: Stack) -> Iterator[Stack]:
    """The shared stack, its proxy passing everything through again after the test."""
    yield shared_stack
    proxy = shared_stack.proxy
    proxy.released.set()  # a request held by a silent proxy ends now
    proxy.drop_reused = proxy.reset = proxy.silent = False
    proxy.lose_answer = lambda method, path: False
    proxy.released.clear()


def _assert_unreachable(answer: requests.Response) -> None:
    assert answer.status_code in (502, 503), (answer.request.method, answer.url, answer.text)
    assert answer.json() == {"error": UNREACHABLE}


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_reads_and_deletes_survive_dropped_keep_alive_connections(
    stack: Stack, reset: bool
) -> None:
    alice, proxy = stack.alice, stack.proxy
    sid = stack.new_group()
    first = alice.send(sid, "hello 0").json()["message"]
    alice.send(sid, "hello 1")

    proxy.drop_reused, proxy.reset = True, reset
    dropped_before = proxy.dropped
    listed = alice.get("/api/conversations")
    assert listed.status_code == 200, listed.text
    assert sid in [c["sid"] for c in listed.json()["conversations"]]
    assert alice.get(f"/api/conversations/{sid}").status_code == 200
    page = alice.get(f"/api/conversations/{sid}/messages")
    assert page.status_code == 200, page.text
    assert [m["body"] for m in page.json()["messages"]] == ["hello 0", "hello 1"]
    assert (
        stack.call("DELETE", f"/api/conversations/{sid}/messages/{first['sid']}").status_code == 204
    )
    assert proxy.dropped >= dropped_before + 4  # every call above met a dropped connection

    proxy.drop_reused = False
    page = alice.get(f"/api/conversations/{sid}/messages")
    assert [m["body"] for m in page.json()["messages"]] == ["hello 1"]  # deleted once


def test_a_send_whose_answer_is_lost_is_not_repeated_and_its_retry_is_recognised(
    stack: Stack,
) -> None:
    """A create carries no idempotency key Twilio knows, so the connection that lost its
    answer is not asked again; the page's retry, with the same client_id, finds the message."""
    alice, proxy = stack.alice, stack.proxy
    sid = stack.new_group()
    creates = f"/v1/Services/{EMULATOR_SERVICE_SID}/Conversations/{sid}/Messages"
    proxy.lose_answer = lambda method, path: method == "POST" and path == creates
    client_id = uuid.uuid4().hex

    _assert_unreachable(alice.send(sid, "only once", client_id=client_id))
    assert proxy.forwarded.count(("POST", creates)) == 1

    proxy.lose_answer = lambda method, path: False
    again = alice.send(sid, "only once", client_id=client_id)
    assert again.status_code == 200, again.text  # the first try's message, nothing new
    assert proxy.forwarded.count(("POST", creates)) == 1
    page = alice.get(f"/api/conversations/{sid}/messages")
    assert [m["body"] for m in page.json()["messages"]] == ["only once"]


def test_the_client_resends_a_create_only_with_an_idempotency_key(stack: Stack) -> None:
    """At the seam itself: a POST whose connection was dropped is sent again only when it
    carries an ``Idempotency-Key`` (Twilio's, where its API takes one); a GET always is."""
    proxy, client = stack.proxy, ParleyHttpClient(timeout=10)
    conversations = f"{proxy.url}/v1/Services/{EMULATOR_SERVICE_SID}/Conversations"
    auth = (EMULATOR_ACCOUNT_SID, TOKEN)
    assert client.request("GET", conversations, auth=auth).status_code == 200
    proxy.drop_reused = True

    create = ("POST", conversations.removeprefix(proxy.url))
    dropped, created = proxy.dropped, proxy.forwarded.count(create)
    with pytest.raises(TwilioUnreachable):
        client.request("POST", conversations, data={"FriendlyName": "once"}, auth=auth)
    assert proxy.dropped == dropped + 1  # not sent again
    assert client.request("GET", conversations, auth=auth).status_code == 200  # a new connection
    keyed = client.request(
        "POST",
        conversations,
        data={"FriendlyName": "keyed"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        auth=auth,
    )
    assert keyed.status_code == 201
    assert proxy.dropped == dropped + 2  # dropped on the reused connection, then sent again
    assert proxy.forwarded.count(create) == created + 1  # the keyed one, once


def test_a_connection_idle_past_the_limit_is_not_used_again(stack: Stack) -> None:
    """A POST after the idle limit goes on a new connection, so a server closing the idle one
    (gunicorn after its keep-alive) cannot meet it; within the limit, the connection is kept."""
    proxy = stack.proxy
    conversations = f"{proxy.url}/v1/Services/{EMULATOR_SERVICE_SID}/Conversations"
    auth = (EMULATOR_ACCOUNT_SID, TOKEN)
    keeping, closing = ParleyHttpClient(timeout=10), ParleyHttpClient(idle_limit=0, timeout=10)
    assert keeping.request("GET", conversations, auth=auth).status_code == 200
    assert closing.request("GET", conversations, auth=auth).status_code == 200
    proxy.drop_reused = True  # what a server closing idle connections does to a late request

    with pytest.raises(TwilioUnreachable):
        keeping.request("POST", conversations, data={"FriendlyName": "kept"}, auth=auth)
    created = closing.request("POST", conversations, data={"FriendlyName": "fresh"}, auth=auth)
    assert created.status_code == 201


def test_an_upload_after_the_idle_limit_goes_on_a_new_connection(stack: Stack) -> None:
    """An upload (read from the browser once, never resent) after the idle limit does not
    meet a connection the server is closing; within the limit, the connection is kept."""
    proxy = stack.proxy
    config = Config.from_env({"TWILIO_EMULATOR_URL": proxy.url, "TWILIO_AUTH_TOKEN": TOKEN})
    keeping, closing = MediaGateway(config), MediaGateway(config, idle_limit=0)
    photo = b"\x89PNG\r\n\x1a\n" + b"\0" * 2000
    for media in (keeping, closing):
        media.upload(io.BytesIO(photo), len(photo), "image/png", "first.png")
    proxy.drop_reused = True  # what a server closing idle connections does to a late request

    with pytest.raises(GatewayError) as dropped:
        keeping.upload(io.BytesIO(photo), len(photo), "image/png", "kept.png")
    assert dropped.value.status == 503
    uploaded = closing.upload(io.BytesIO(photo), len(photo), "image/png", "fresh.png")
    assert (uploaded.filename, uploaded.size) == ("fresh.png", len(photo))


def test_the_idle_limit_is_below_gunicorns_keep_alive() -> None:
    conf = (Path(__file__).parents[2] / "gunicorn.conf.py").read_text()
    keepalive = re.search(r"^keepalive = (\d+)$", conf, re.MULTILINE)
    assert keepalive is not None
    assert IDLE_LIMIT < int(keepalive.group(1))


#: Bodies each route would accept from a participant; the others take none.
BODIES: dict[str, Any] = {
    "api.create_conversation": {"participants": ["carol"]},
    "api.send_message": {"body": "hello"},
    "api.mark_read": {"index": 0},
    "api.rename_conversation": {"friendly_name": "a group"},
    "api.add_participant": {"username": "carol"},
    "api.edit_message": {"body": "edited"},
}


@pytest.fixture
def api_rules(tmp_path: Path) -> Iterator[list[Rule]]:
    """Every API route, read from a real app's URL map: a new route is checked here too."""
    app = create_app(app_for(tmp_path))
    try:
        yield [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")]
    finally:
        app.extensions["parley"].broker.close()


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack of the test's own, for a test that stops its proxy for good."""
    with hiccup_stack(tmp_path) as stack:
        yield stack


def test_a_twilio_that_cannot_be_reached_is_503_on_every_route(
    own_stack: Stack, api_rules: list[Rule]
) -> None:
    stack, alice = own_stack, own_stack.alice
    sid = alice.start_dm("bob")["sid"]
    message_sid = alice.send(sid, "before the outage").json()["message"]["sid"]
    stack.proxy.stop()

    _assert_unreachable(alice.get("/api/conversations"))
    _assert_unreachable(alice.send(sid, "during the outage", client_id=uuid.uuid4().hex))
    values = {"sid": sid, "message_sid": message_sid, "who": "bob", "media_sid": "ME" + "0" * 32}
    for rule in api_rules:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule).format(**values)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            answer = stack.call(method, path, BODIES.get(rule.endpoint))
            if answer.status_code >= 500:
                _assert_unreachable(answer)
    for page in ("/", f"/c/{sid}"):
        # The page itself opens (not a misleading 404); its API calls then say what is wrong.
        assert alice.get(page).status_code == 200, page


def test_a_twilio_that_does_not_answer_is_503_after_the_timeout(stack: Stack) -> None:
    stack.new_group()
    stack.proxy.silent = True
    _assert_unreachable(stack.call("GET", "/api/conversations"))
