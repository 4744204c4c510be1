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
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench.tally import Tally

ACCOUNT_SID = "AC" + "0" * 32
SERVICE_SID = "IS" + "0" * 32
#: Seconds a webhook may take before it counts as failed (longer than Twilio waits).
TIMEOUT = 10.0


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

    def _request(self, target: Target, msg_no: int) -> bytes:
        """The request as Twilio would send it; the body carries the send time (µs)."""
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
            reader: asyncio.StreamReader | None = None
            writer: asyncio.StreamWriter | None = None
            try:
                while True:
                    msg_no = await todo.get()
                    if msg_no is None or time.monotonic() > deadline + 5:
                        return
                    target = targets[(msg_no - first_no) % len(targets)]
                    began = time.monotonic()
                    try:
                        if writer is None or reader is None:
                            reader, writer = await asyncio.wait_for(
                                asyncio.open_connection("127.0.0.1", self._port), TIMEOUT
                            )
                        writer.write(self._request(target, msg_no))
                        result.sent += 1
                        status, text, keep = await asyncio.wait_for(_read_response(reader), TIMEOUT)
                    except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
                        # A timeout here usually means the worker's connection pool is full
                        # (gunicorn's worker_connections counts every held stream).
                        result.statuses[type(exc).__name__] += 1
                        if writer is not None:
                            writer.close()
                        writer.close()
                        reader = writer = None
                        continue
                    result.response_us.append(int((time.monotonic() - began) * 1e6))
                    result.statuses[f"{status} {text}"] += 1
                    if status == 200 and text == "ok":
                        result.accepted += 1
                        self._tally.expect(msg_no, target.recipients)
                    if not keep:
                        writer.close()
                        reader = writer = None
            finally:
                if writer is not None:
                    writer.close()

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
