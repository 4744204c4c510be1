"""Openings turned away are told to come back spread at the rate the worker serves them."""

from __future__ import annotations

import random

from webapp.stream.admission import COME_BACK_MIN_S, COME_BACK_SPREAD_MAX_S, Admission


def test_returns_are_spread_at_the_rate_openings_are_served() -> None:
    random.seed(13)
    admission = Admission(limit=2)
    for _ in range(16):  # 16 served within the last second: returns planned at 20 a second
        admitted_at = admission.admit()
        assert admitted_at is not None
        admission.release(admitted_at)
    delays = [admission.come_back_ms() / 1000 for _ in range(200)]
    assert all(COME_BACK_MIN_S <= d <= COME_BACK_MIN_S + COME_BACK_SPREAD_MAX_S for d in delays)
    # 200 returns at 20 per second take 10 s, a second's worth (20) in each second.
    assert 9.9 <= max(delays) - COME_BACK_MIN_S <= 10.1
    per_second = [sum(1 for d in delays if n <= d < n + 1) for n in range(1, 11)]
    assert max(per_second) <= 21


def test_an_opening_is_turned_away_when_the_queue_ahead_would_take_too_long() -> None:
    admission = Admission(limit=1)
    held = admission.admit()
    assert held is not None
    assert admission.admit() is None  # the one slot stays taken past the wait
    admission.release(held)
    assert admission.admit() is not None


def test_returns_past_the_longest_delay_are_spread_over_it_not_heaped_at_its_end() -> None:
    random.seed(13)
    admission = Admission(limit=2)  # nothing served lately: taken as 2 a second
    delays = [admission.come_back_ms() / 1000 for _ in range(1000)]
    assert max(delays) <= COME_BACK_MIN_S + COME_BACK_SPREAD_MAX_S + 0.5  # plus its jitter
    last_second = COME_BACK_MIN_S + COME_BACK_SPREAD_MAX_S - 1
    assert sum(1 for d in delays if d >= last_second) < 200  # 1000 over 15 s: about 70 a second
