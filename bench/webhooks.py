"""Signed ``onMessageAdded`` webhooks, as Twilio sends them, at a steady rate or flat out.

Requests are form-encoded with Twilio's parameter set and an ``X-Twilio-Signature`` from the
``twilio`` library's own ``RequestValidator``; they go over a few keep-alive connections (Twilio
also reuses connections). Open loop: a ticker releases message numbers at the target rate and
whichever connection is free sends the next one, so a slow server shows up as lag and latency,
not as a quietly lower rate.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench.tally import Tally

ACCOUNT_SID = "AC" + "0" * 32
SERVICE_SID = "IS" + "0" * 32
#: Seconds a webhook may take before it counts as failed (longer than Twilio waits).
TIMEOUT = 10.0
#: Tries after a webhook got no answer (Twilio retries too).
RETRIES = 3


@dataclass(frozen=True)
class Target:
    """A conversation messages are sent to, and how many streams should receive each."""

    sid: str
    author: str
    recipients: int


@dataclass
class SendResult:
    sent: int = 0
    accepted: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    response_us: array[int] = field(default_factory=lambda: array("q"))
    max_lag_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def response_ms(self, q: float) -> float | None:
        ordered = sorted(self.response_us)
        if not ordered:
            return None
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000


class WebhookSender:
    def __init__(self, port: int, auth_token: str, tally: Tally) -> None:
        self._port = port
        self.url = f"http://127.0.0.1:{port}/twilio/webhook"
        self._validator = RequestValidator(auth_token)
        self._tally = tally
        self._index: Counter[str] = Counter()

    def _params(self, target: Target, msg_no: int) -> dict[str, str]:
        """The webhook's parameters as Twilio would send them; the body carries the first
        try's send time (µs). A retry sends the same ones with its ``RetryCount``."""
        send_us = time.time_ns() // 1000
        index = self._index[target.sid]
        self._index[target.sid] += 1
        params = {
            "AccountSid": ACCOUNT_SID,
            "ChatServiceSid": SERVICE_SID,
            "EventType": "onMessageAdded",
            "ConversationSid": target.sid,
            "MessageSid": "IM" + uuid.uuid4().hex,
            "Index": str(index),
            "Author": target.author,
            "Body": f"bench {msg_no} {send_us}",
            "Attributes": "{}",
            "DateCreated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "ParticipantSid": "MB" + "0" * 32,
            "Source": "API",
            "RetryCount": "0",
            "WebhookSid": "WH" + "0" * 32,
            "WebhookType": "webhook",
        }
        return params

    def _request(self, params: dict[str, str]) -> bytes:
        """The signed request for ``params``."""
        signature = self._validator.compute_signature(self.url, params)
        body = urlencode(params).encode()
        head = (
            "POST /twilio/webhook HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{self._port}\r\n"
            "User-Agent: TwilioProxy/1.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Twilio-Signature: {signature}\r\n"
            f"I-Twilio-Idempotency-Token: {ACCOUNT_SID}-{uuid.uuid4().hex}\r\n\r\n"
        )
        return head.encode() + body

    async def _send_one(
        self,
        conn: list[Any],
        targets: list[Target],
        first_no: int,
        msg_no: int,
        params: dict[str, str],
        attempt: int,
        result: SendResult,
    ) -> bool:
        """One try of one webhook on ``conn`` (reader, writer; reopened when None). True once
        answered (whatever the answer), False when the connection failed."""
        target = targets[(msg_no - first_no) % len(targets)]
        params["RetryCount"] = str(attempt)
        began = time.monotonic()
        try:
            if conn[1] is None:
                conn[0], conn[1] = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self._port), TIMEOUT
                )
            conn[1].write(self._request(params))
            result.sent += 1
            status, text, keep = await asyncio.wait_for(_read_response(conn[0]), TIMEOUT)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            # A timeout usually means the worker is overloaded; a broken connection, that it
            # restarted.
            result.statuses[type(exc).__name__] += 1
            if conn[1] is not None:
                conn[1].close()
            conn[0] = conn[1] = None
            return False
        result.response_us.append(int((time.monotonic() - began) * 1e6))
        result.statuses[f"{status} {text}"] += 1
        # "duplicate" to a retry: the first try was published and only its answer was lost.
        if status == 200 and (text == "ok" or (text == "duplicate" and attempt > 0)):
            result.accepted += 1
            self._tally.expect(msg_no, target.recipients)
        if not keep:
            conn[1].close()
            conn[0] = conn[1] = None
        return True

    async def run(
        self,
        targets: list[Target],
        first_no: int,
        count: int,
        rate: float,
        duration: float,
        connections: int,
    ) -> SendResult:
        """Send up to ``count`` messages numbered from ``first_no``, round-robin over
        ``targets``, at ``rate`` per second (0: as fast as ``connections`` allow), stopping
        after ``duration`` seconds whatever happens."""
        result = SendResult()
        todo: asyncio.Queue[int | None] = asyncio.Queue()
        start = time.monotonic()
        deadline = start + duration

        async def ticker() -> None:
            released = 0
            while released < count and time.monotonic() < deadline:
                due = count if rate <= 0 else min(count, int((time.monotonic() - start) * rate))
                for msg_no in range(first_no + released, first_no + due):
                    todo.put_nowait(msg_no)
                released = max(released, due)
                lag = todo.qsize() / rate if rate > 0 else 0.0
                result.max_lag_s = max(result.max_lag_s, lag)
                await asyncio.sleep(0.002)
            for _ in range(connections):
                todo.put_nowait(None)

        async def worker() -> None:
            conn: list[Any] = [None, None]  # reader, writer of this worker's keep-alive connection
            try:
                while True:
                    msg_no = await todo.get()
                    if msg_no is None or time.monotonic() > deadline + 5:
                        return
                    # Twilio retries a webhook that got no answer; so does this sender, at
                    # once on a new connection (a broken one means the worker restarted).
                    target = targets[(msg_no - first_no) % len(targets)]
                    params = self._params(target, msg_no)
                    for attempt in range(RETRIES + 1):
                        if await self._send_one(
                            conn, targets, first_no, msg_no, params, attempt, result
                        ):
                            break
            finally:
                if conn[1] is not None:
                    conn[1].close()

        await asyncio.gather(ticker(), *(worker() for _ in range(connections)))
        result.seconds = time.monotonic() - start
        return result


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, str, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    length = 0
    marker = lower.find(b"content-length:")
    if marker >= 0:
        length = int(lower[marker + 15 : lower.find(b"\r\n", marker)])
    body = await reader.readexactly(length) if length else b""
    return status, body.decode(errors="replace").strip(), b"connection: close" not in lower
