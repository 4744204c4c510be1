"""When a process pushes out the expiry of the logs it writes (`webapp/events/log_expiry.py`)."""

from __future__ import annotations

from webapp.events.log_expiry import LogExpiry


def test_each_user_is_due_once_per_interval() -> None:
    now = [0.0]
    expiry = LogExpiry(3600, clock=lambda: now[0])
    assert expiry.every == 60 and expiry.seconds == 3600 + 120
    assert expiry.due(["ann", "ben"]) == ["ann", "ben"]
    now[0] = 59.0
    assert expiry.due(["ann", "ben", "cat"]) == ["cat"]
    now[0] = 60.0
    assert expiry.due(["ann", "ben", "cat"]) == ["ann", "ben"]


def test_a_short_age_limit_keeps_a_short_margin() -> None:
    expiry = LogExpiry(30)
    assert expiry.every == 3 and expiry.seconds == 36


def test_a_forgotten_user_is_due_again() -> None:
    expiry = LogExpiry(3600, clock=lambda: 0.0)
    assert expiry.due(["ann"]) == ["ann"]
    expiry.forget(["ann", "nobody"])
    assert expiry.due(["ann"]) == ["ann"]


def test_only_recent_recipients_are_remembered() -> None:
    now = [0.0]
    expiry = LogExpiry(3600, clock=lambda: now[0])
    expiry.due([f"u{n}" for n in range(1000)])
    now[0] = 61.0
    assert expiry.due(["ann"]) == ["ann"]
    assert len(expiry._pushed) == 1
