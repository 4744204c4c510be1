"""Thousands of SSE streams in one process: asyncio protocols on raw sockets.

One protocol object per stream and no coroutine or thread: 10,000 streams cost a few tens of
MB here, and each arriving chunk is decoded (HTTP/1.1 chunked, as gunicorn sends a streamed
body) and scanned with two regular expressions. Parley's ``id: <epoch>-<seq>.<tag>`` lines are
checked per stream, so a gap or a repeat is seen even if the totals happen to match.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import cast

from bench.tally import Tally

_BODY = re.compile(rb'"body":\s*"bench (\d+) (\d+)"')
# Found by the literal "id:" rather than anchored at a line's start (a third of the cost: the
# client shares the machine with the server); no other line of these frames holds "id:".
_ID = re.compile(rb"id: ?(([0-9A-Za-z]+)-(\d+)(?:\.[0-9A-Za-z]+)?)(?=\n|$)")
_RETRY = re.compile(rb"^retry: ?(\d+)$", re.M)


@dataclass
class StreamStats:
    """Totals across every stream of a pool."""

    opened: int = 0
    connected: int = 0
    failed: int = 0
    closed_by_server: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    seq_gaps: int = 0
    seq_repeats: int = 0
    #: After a server closed them: streams opened again with ``Last-Event-ID``, those that
    #: were told to ``resync`` instead of resumed (continuity lost), and failed attempts.
    reconnected: int = 0
    resyncs: int = 0
    reconnect_failures: int = 0
    last_reconnect_at: float = 0.0
    #: Streams (by position) that got their ``resumed``/``resync``, i.e. are open, and when the
    #: last one did; answers that ended before that (``: busy``: turned away at opening).
    established: set[int] = field(default_factory=set)
    last_established_at: float = 0.0
    turned_away: int = 0


class SseStream(asyncio.Protocol):
    """One ``GET /stream`` held open; everything it reads goes to the shared tally."""

    def __init__(
        self,
        request: bytes,
        tally: Tally,
        stats: StreamStats,
        pool: StreamPool | None = None,
        index: int = -1,
        resumed_from: SseStream | None = None,
    ) -> None:
        self.request = request
        self._tally = tally
        self._stats = stats
        self._pool = pool
        self.index = index
        self._head = b""
        self._raw = b""
        self._text = b""
        self._chunked = False
        self._status = 0
        self._last_seq: int | None = None
        #: The id of the last event read (with its tag): the ``Last-Event-ID`` of a reconnect.
        self.last_id: bytes | None = None
        self._reconnect = resumed_from is not None
        if resumed_from is not None:  # the same stream, continued: its ids must follow on
            self._last_seq = resumed_from._last_seq
            self.last_id = resumed_from.last_id
        #: The reconnect delay the server last asked for (``retry:``, in ms), as EventSource
        #: keeps it.
        self.retry_ms: int | None = resumed_from.retry_ms if resumed_from is not None else None
        self._closing = False
        self._ended = False
        self.transport: asyncio.Transport | None = None
        self.ready = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._stats.opened += 1
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._status == 0 and not self._closing and self._pool is not None:
            self._pool.reconnect(self)  # a network error: EventSource tries again too
        if self._status == 200 and not self._closing:
            self._stats.closed_by_server += 1
            if self._pool is not None:
                self._pool.reconnect(self)  # as EventSource does, after the retry delay
        if not self.ready.done():
            self._stats.failed += 1
            self.ready.set_result(False)

    def data_received(self, data: bytes) -> None:
        recv_us = time.time_ns() // 1000
        if not self._status:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self._head[:end], self._head[end + 4 :]
            self._status = int(head.split(b" ", 2)[1])
            self._stats.statuses[self._status] = self._stats.statuses.get(self._status, 0) + 1
            self._chunked = b"transfer-encoding: chunked" in head.lower()
            if self._status == 200 and self._reconnect:
                self._stats.reconnected += 1
                self._stats.last_reconnect_at = time.monotonic()
            elif self._status == 200:
                self._stats.connected += 1
            else:
                self._stats.failed += 1
            self.ready.set_result(self._status == 200)
        if self._chunked:
            self._raw += data
            data = self._dechunk()
        self._text += data
        if b"\n\n" in self._text:
            events, _, self._text = self._text.rpartition(b"\n\n")
            self._scan(events, recv_us)
        if self._ended and self.transport is not None:
            self.transport.close()  # the response is complete: the stream ended

    def _dechunk(self) -> bytes:
        buf, pos, out = self._raw, 0, []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(buf[pos:eol].split(b";", 1)[0], 16)
            end = eol + 2 + size
            if size == 0:
                self._ended = True  # the last chunk
                break
            if len(buf) < end + 2:
                break
            out.append(buf[eol + 2 : end])
            pos = end + 2
        self._raw = buf[pos:]
        return b"".join(out)

    def _scan(self, events: bytes, recv_us: int) -> None:
        tally = self._tally
        for match in _BODY.finditer(events):
            tally.arrived(int(match.group(1)), int(match.group(2)), recv_us)
        if b"retry:" in events:
            self.retry_ms = int(_RETRY.findall(events)[-1])
        if b"event: res" in events:  # resumed or resync: rare, so looked at closer only then
            if self._reconnect and b"event: resync" in events:
                self._stats.resyncs += 1
            if b"event: resumed" in events or b"event: resync" in events:
                if self.index not in self._stats.established:
                    self._stats.established.add(self.index)
                    self._stats.last_established_at = time.monotonic()
        elif b": busy" in events:
            self._stats.turned_away += 1
        if b"id:" in events:
            for match in _ID.finditer(events):
                self.last_id = match.group(1)
                seq = int(match.group(3))
                last = self._last_seq
                if last is not None:
                    if seq <= last:
                        self._stats.seq_repeats += 1
                    elif seq > last + 1:
                        self._stats.seq_gaps += 1
                self._last_seq = seq

    def close(self) -> None:
        self._closing = True
        if self.transport is not None:
            self.transport.abort()


class StreamPool:
    """Opens N streams in batches the server can accept, and holds them."""

    def __init__(self, port: int, tally: Tally) -> None:
        self._port = port
        self._tally = tally
        self.stats = StreamStats()
        self.streams: dict[int, SseStream] = {}  # by position in the requests
        #: Seconds before a stream the server closed is opened again (None: it is not) when
        #: the server set no ``retry:``, plus up to ``reconnect_jitter`` more, at random.
        self.reconnect_after: float | None = None
        self.reconnect_jitter = 0.0
        self._closed = False

    def reconnect(self, stream: SseStream) -> None:
        """Open ``stream`` again with ``Last-Event-ID``, after the retry delay."""
        if self.reconnect_after is None or self._closed:
            return
        base = stream.retry_ms / 1000 if stream.retry_ms is not None else self.reconnect_after
        delay = base + random.uniform(0, self.reconnect_jitter)
        loop = asyncio.get_running_loop()
        loop.call_later(delay, lambda: loop.create_task(self._reopen(stream, 10)))

    async def _reopen(self, stream: SseStream, tries: int) -> None:
        head = stream.request[: stream.request.index(b"\r\n\r\n")]
        head = b"\r\n".join(h for h in head.split(b"\r\n") if not h.startswith(b"Last-Event-ID"))
        if stream.last_id is not None:
            head += b"\r\nLast-Event-ID: " + stream.last_id
        request = head + b"\r\n\r\n"
        for _ in range(tries):
            if self._closed:
                return
            try:
                _, fresh = await asyncio.get_running_loop().create_connection(
                    lambda: SseStream(request, self._tally, self.stats, self, stream.index, stream),
                    "127.0.0.1",
                    self._port,
                )
            except OSError:
                self.stats.reconnect_failures += 1
                await asyncio.sleep(self.reconnect_after or 1.0)
                continue
            self.streams[stream.index] = fresh
            return

    def request(self, path: str, cookie: str | None) -> bytes:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{self._port}",
            "Accept: text/event-stream",
            "Cache-Control: no-cache",
            "User-Agent: parley-bench/1",
        ]
        if cookie:
            lines.append(f"Cookie: session={cookie}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    async def open(
        self,
        requests: list[bytes],
        batch: int,
        confirmed: Callable[[], Awaitable[int]] | None,
        timeout: float,
        lead: int = 0,
    ) -> None:
        """Open every stream; after each batch wait until the server has taken it.

        Parley answers with headers at once, so ``ready`` is enough; Flask-SSE sends nothing
        until its first event, so ``confirmed`` (its Redis subscriber count) tells instead.
        A batch bounds the connect backlog, so no SYN is dropped and retried a second later.
        The first ``lead`` streams open alone, before the first batch.
        """
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        starts = (
            [0, *range(lead, len(requests), batch)] if lead else [*range(0, len(requests), batch)]
        )
        for start, end in zip(starts, [*starts[1:], len(requests)], strict=True):
            chunk = requests[start:end]
            results = await asyncio.gather(
                *(
                    loop.create_connection(
                        partial(SseStream, r, self._tally, self.stats, self, n),
                        "127.0.0.1",
                        self._port,
                    )
                    for n, r in enumerate(chunk, start)
                ),
                return_exceptions=True,
            )
            fresh: list[SseStream] = []
            for result in results:
                if isinstance(result, BaseException):
                    self.stats.failed += 1
                else:
                    fresh.append(result[1])
            self.streams.update((stream.index, stream) for stream in fresh)
            want = len(self.streams)
            if confirmed is None and fresh:
                left = max(0.1, deadline - time.monotonic())
                await asyncio.wait([s.ready for s in fresh], timeout=left)
            elif confirmed is not None:
                while time.monotonic() < deadline and await confirmed() < want:
                    await asyncio.sleep(0.05)
            if time.monotonic() > deadline:
                break

    def close(self) -> None:
        self._closed = True
        for stream in self.streams.values():
            stream.close()
