"""Counting what was promised against what arrived, cheaply enough for 100,000 deliveries/s.

Every benchmark message carries ``bench <msg_no> <send_us>`` in its body. The webhook sender
records how many streams should get each ``msg_no`` (its recipients, once the webhook answered
200); the stream readers count arrivals per ``msg_no`` and the latency from ``send_us``. Loss
and duplicates fall out per message at the end, with no per-stream sets to hold.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass


@dataclass
class Summary:
    expected: int
    received: int
    lost: int
    duplicated: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class Tally:
    """Expected and received deliveries per message number, and measured latencies."""

    def __init__(self, capacity: int) -> None:
        self.expected = array("i", bytes(4 * capacity))
        self.received = array("i", bytes(4 * capacity))
        self.begin_phase(0)

    def begin_phase(self, first_no: int) -> None:
        """Count and time only messages numbered from ``first_no`` on: late arrivals of an
        earlier phase must not make this one look drained or slow."""
        self.measure_from = first_no
        self.latencies_us: array[int] = array("q")
        self.phase_expected = 0
        self.phase_received = 0
        self.first_recv_us = 0
        self.last_recv_us = 0

    def expect(self, msg_no: int, recipients: int) -> None:
        self.expected[msg_no] += recipients
        if msg_no >= self.measure_from:
            self.phase_expected += recipients

    def arrived(self, msg_no: int, send_us: int, recv_us: int) -> None:
        if msg_no >= len(self.received):
            return  # not ours (a stale message from an earlier run on the same Redis)
        self.received[msg_no] += 1
        if msg_no >= self.measure_from:
            self.phase_received += 1
            self.latencies_us.append(recv_us - send_us)
            if not self.first_recv_us:
                self.first_recv_us = recv_us
            self.last_recv_us = recv_us

    def pending(self) -> int:
        return self.phase_expected - self.phase_received

    def summary(self, start: int, stop: int) -> Summary:
        """Loss and latency for messages ``start <= msg_no < stop``."""
        lost = duplicated = expected = received = 0
        for msg_no in range(start, stop):
            want, got = self.expected[msg_no], self.received[msg_no]
            expected += want
            received += got
            if got < want:
                lost += want - got
            elif got > want:
                duplicated += got - want
        ordered = sorted(self.latencies_us)

        def pct(q: float) -> float | None:
            if not ordered:
                return None
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000

        return Summary(
            expected=expected,
            received=received,
            lost=lost,
            duplicated=duplicated,
            p50_ms=pct(0.50),
            p99_ms=pct(0.99),
            max_ms=ordered[-1] / 1000 if ordered else None,
        )
