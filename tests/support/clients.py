"""Clients that act like a logged-in user: the JSON API and the event stream."""

from __future__ import annotations

import json
import queue
import re
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from tests.support.servers import ParleyServer
from tests.support.waiting import wait_until
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class ApiClient:
    """A requests session logged in through the real login form, sending CSRF tokens."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.csrf_token = ""
        self.username = ""

    def login(self, username: str, password: str) -> ApiClient:
        page = self.session.get(self.base_url + "/login", timeout=10)
        token = _CSRF_FIELD.search(page.text)
        assert token, "login form has no csrf_token field"
        response = self.session.post(
            self.base_url + "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            timeout=10,
        )
        assert response.status_code == 200 and "/login" not in response.url, "login failed"
        return self._open_chat(username)

    def sign_in_from_host(self, identity: str, token: str) -> ApiClient:
        """Log in as a host site hands its user over (``POST /sso/login``)."""
        response = self.session.post(
            self.base_url + "/sso/login", data={"token": token}, timeout=10
        )
        assert response.status_code == 200 and "/login" not in response.url, response.text
        return self._open_chat(identity)

    def _open_chat(self, identity: str) -> ApiClient:
        chat = self.session.get(self.base_url + "/", timeout=10)
        meta = _CSRF_META.search(chat.text)
        assert meta, "chat page has no csrf-token meta"
        self.csrf_token = meta.group(1)
        self.username = identity
        return self

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=10, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        headers = {"X-CSRFToken": self.csrf_token, **kwargs.pop("headers", {})}
        return self.session.post(
            self.base_url + path, json=body, headers=headers, timeout=10, **kwargs
        )

    def put(self, path: str, body: Any = None) -> requests.Response:
        headers = {"X-CSRFToken": self.csrf_token}
        return self.session.put(self.base_url + path, json=body, headers=headers, timeout=10)

    def delete(self, path: str) -> requests.Response:
        headers = {"X-CSRFToken": self.csrf_token}
        return self.session.delete(self.base_url + path, headers=headers, timeout=10)

    def stream_cursor(self) -> str:
        page = self.get("/")
        match = re.search(r'data-stream-cursor="([^"]+)"', page.text)
        assert match, "chat page has no data-stream-cursor"
        return match.group(1)

    def start_dm(self, other: str) -> dict[str, Any]:
        response = self.post("/api/conversations", {"participants": [other]})
        assert response.status_code in (200, 201), response.text
        conversation: dict[str, Any] = response.json()["conversation"]
        return conversation

    def send(self, sid: str, body: str, **extra: Any) -> requests.Response:
        return self.post(f"/api/conversations/{sid}/messages", {"body": body, **extra})


@dataclass
class SseEvent:
    event: str
    data: Any
    id: str | None


#: A stream's connection is never handed back to the session's pool: the server closes it
#: when the stream ends, and a request sent on it in the instant before the close arrives
#: would fail (browsers retry such a request; requests does not).
STREAM_ONLY = {"Connection": "close"}


class StreamReader:
    """Reads a user's ``/stream`` in a background thread into a queue of parsed events."""

    def __init__(self, client: ApiClient, cursor: str | None = None, **headers: str) -> None:
        self.events: queue.Queue[SseEvent] = queue.Queue()
        self.seen: list[SseEvent] = []
        params = {"cursor": cursor} if cursor else {}
        self.response = client.session.get(
            client.base_url + "/stream",
            params=params,
            headers={**STREAM_ONLY, **headers},
            stream=True,
            timeout=(5, 60),
        )
        self.status_code = self.response.status_code
        self.headers = self.response.headers
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.status_code == 200:
            self._thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.response.iter_lines(decode_unicode=True):
                line = raw or ""
                if not line:
                    if "event" in fields or "data" in fields:
                        data = json.loads(fields.get("data", "null"))
                        self.events.put(
                            SseEvent(fields.get("event", "message"), data, fields.get("id"))
                        )
                    fields = {}
                elif line.startswith(":"):
                    continue
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
        except (requests.RequestException, AttributeError, ValueError):
            pass

    def next_event(self, timeout: float = 5.0) -> SseEvent:
        event = self.events.get(timeout=timeout)
        self.seen.append(event)
        return event

    def wait_for(self, event: str, predicate: Any = None, timeout: float = 5.0) -> SseEvent:
        """The first event named ``event`` (matching ``predicate``), failing at the deadline."""

        def check() -> SseEvent | None:
            try:
                candidate = self.events.get(timeout=0.1)
            except queue.Empty:
                return None
            self.seen.append(candidate)
            if candidate.event == event and (predicate is None or predicate(candidate.data)):
                return candidate
            return None

        return wait_until(check, timeout, f"stream event {event}")

    def drain(self, timeout: float = 0.5) -> list[SseEvent]:
        """Everything that arrives within ``timeout`` (for asserting that nothing arrived)."""
        got: list[SseEvent] = []
        try:
            while True:
                got.append(self.events.get(timeout=timeout))
        except queue.Empty:
            return got

    def ended(self) -> bool:
        """True once the server has ended the stream (the reader saw the end of the body)."""
        return not self._thread.is_alive()

    def close(self) -> None:
        """Hang up at once, as a closed browser tab does (not at the next heartbeat)."""
        connection = getattr(self.response.raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.response.close()
        self._thread.join(5)


def text_from_phone(
    server: ParleyServer, number: str, sid: str, body: str, media_sids: tuple[str, ...] = ()
) -> None:
    """What `flask emulator sms --from <number> --to <sid> --body <body>` does: an inbound
    SMS (an MMS with `media_sids`, files uploaded to the emulator's MCS) through the
    emulator's development endpoint."""
    answer = requests.post(
        server.url + "/_emulator/_dev/sms",
        data={"From": number, "To": sid, "Body": body, "MediaSid": list(media_sids)},
        auth=(EMULATOR_ACCOUNT_SID, server.auth_token),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def delete_in_twilio(server: ParleyServer, sid: str, webhooks: bool = True) -> None:
    """DELETE /v1/Conversations/<sid> on the emulator, webhooks on (as Twilio's console does)
    unless ``webhooks`` is False (then Parley is not told)."""
    answer = requests.delete(
        f"{server.url}/_emulator/v1/Conversations/{sid}",
        auth=(EMULATOR_ACCOUNT_SID, server.auth_token),
        headers={"X-Twilio-Webhook-Enabled": "true" if webhooks else "false"},
        timeout=10,
    )
    assert answer.status_code == 204, answer.text


def message_added_params(sid: str, body: str) -> dict[str, str]:
    """The parameters of Twilio's ``onMessageAdded`` webhook for an inbound SMS, as Twilio
    form-encodes and signs them (a fresh message SID each time)."""
    return {
        "EventType": "onMessageAdded",
        "AccountSid": "AC" + "0" * 32,
        "ConversationSid": sid,
        "MessageSid": "IM" + uuid.uuid4().hex,
        "Index": "999",
        "Author": "+15551234567",
        "Body": body,
        "Attributes": "{}",
        "Source": "SMS",
        "DateCreated": "2026-11-25T10:00:00.000Z",
    }


class SignalReader(StreamReader):
    """A stream that asks for signals, as the chat page does (``/stream?signals=1``)."""

    def __init__(self, client: ApiClient) -> None:
        self.events: queue.Queue[SseEvent] = queue.Queue()
        self.seen: list[SseEvent] = []
        self.response = client.session.get(
            client.base_url + "/stream",
            params={"signals": "1"},
            headers=STREAM_ONLY,
            stream=True,
            timeout=(5, 60),
        )
        self.status_code = self.response.status_code
        self.headers = self.response.headers
        self._thread = threading.Thread(target=self._read, daemon=True)
        assert self.status_code == 200
        self._thread.start()
        self.wait_for("resync")

    def signals(self, name: str, timeout: float = 1.0) -> list[SseEvent]:
        return [e for e in self.drain(timeout) if e.event == name]
