"""The README's screenshots, made again from scratch: `make screenshots`, or
`.venv/bin/python -m tests.browser.screenshots [OUTPUT_DIR]`.

A throw-away Parley (gunicorn, a private Redis, the in-process emulator, a Twilio number for SMS)
gets a few realistic conversations between alice, bob and carol through the JSON API, then real
Chromium windows, driven as people would drive them, are photographed. Nothing is mocked, so
the pictures show what Parley does today; re-run after changing the look of the chat.
"""

from __future__ import annotations

import base64
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, ViewportSize, expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LIVE_MS, ChatWindow
from tests.support.clients import ApiClient, text_from_phone
from tests.support.servers import (
    ROOT,
    TWILIO_TEST_NUMBER,
    ParleyServer,
    run_parley,
    start_redis,
)
from tests.support.waiting import wait_until

OUTPUT = ROOT / "docs" / "screenshots"
DESKTOP: ViewportSize = {"width": 1000, "height": 700}
PHONE: ViewportSize = {"width": 390, "height": 844}
#: The book club's member who only has a phone (texts in and out through the emulator).
DANA = "+15557650123"


def seed(server: ParleyServer) -> None:
    """Conversations as a small team would have them; the newest activity is the hike."""
    alice, bob, carol = (
        ApiClient(server.url).login(name, server.password) for name in ("alice", "bob", "carol")
    )

    bob_carol = bob.start_dm("carol")["sid"]
    _say(bob, bob_carol, "Got a minute to look at the deploy checklist?")
    _say(carol, bob_carol, "Sure, after standup.")

    _next_second()
    with_carol = alice.start_dm("carol")["sid"]
    _say(carol, with_carol, "Did you get the slides for Thursday?")
    _say(alice, with_carol, "Yes, I'm sending them tonight.")
    _say(carol, with_carol, "Thanks! Lunch on Friday?")

    _next_second()
    book_club = _group(carol, "Book club", ["alice", "bob"])
    _say(carol, book_club, "Next pick: The Left Hand of Darkness?")
    _say(bob, book_club, "Yes! I've wanted to read it for ages.")
    _read(alice, book_club)
    added = alice.post(f"/api/conversations/{book_club}/participants", {"phone_number": DANA})
    assert added.status_code in (200, 201), added.text
    _say(alice, book_club, "I added Dana's phone, so she gets the club by text.")
    _read(carol, book_club, newest=True)
    text_from_phone(server, DANA, book_club, "Thanks for adding me! Tuesday works, count me in.")

    _next_second()
    with_bob = alice.start_dm("bob")["sid"]
    _say(bob, with_bob, "Are we still on for the climbing gym tomorrow?")
    _say(alice, with_bob, "Yes! 6:30, after work?")
    _say(bob, with_bob, "Perfect. I'll book the wall.")
    _say(alice, with_bob, "Great. I'll bring the chalk.")

    _next_second()
    hike = _group(alice, "Weekend hike", ["bob", "carol"])
    _say(alice, hike, "Saturday: Mount Tam, the Dipsea trail?")
    _say(carol, hike, "Count me in.")
    _say(bob, hike, "Meet at the trailhead at 8?")
    _say(carol, hike, "Can we make it 8:30? Traffic on the bridge is bad early.")
    _say(bob, hike, "8:30 it is. I'll bring snacks.")
    _read(alice, with_carol)  # all but carol's lunch question


def _say(client: ApiClient, sid: str, body: str) -> None:
    """Send as the page does: the sender has read up to their own message, which they saw."""
    answer = client.send(sid, body)
    assert answer.status_code == 201, answer.text
    index = answer.json()["message"]["index"]
    assert client.post(f"/api/conversations/{sid}/read", {"index": index}).ok


def _next_second() -> None:
    """Twilio's dates have whole seconds: conversations active within one would tie in the list."""
    now = int(time.time())
    wait_until(lambda: int(time.time()) > now, 2, "the clock to reach the next second")


def _group(client: ApiClient, name: str, people: list[str]) -> str:
    answer = client.post("/api/conversations", {"participants": people, "friendly_name": name})
    assert answer.status_code == 201, answer.text
    sid: str = answer.json()["conversation"]["sid"]
    return sid


def _read(client: ApiClient, sid: str, newest: bool = False) -> None:
    """Mark ``sid`` read up to its newest message, or all but that one (which stays unread)."""
    messages = client.get(f"/api/conversations/{sid}/messages").json()["messages"]
    index = messages[-1 if newest else -2]["index"]
    answer = client.post(f"/api/conversations/{sid}/read", {"index": index})
    assert answer.ok, answer.text


class Studio:
    """Opens logged-in windows of the right size and saves their pictures."""

    def __init__(self, browser: Browser, server: ParleyServer, output: Path) -> None:
        self.browser, self.server, self.output = browser, server, output

    def window(self, username: str, viewport: ViewportSize = DESKTOP) -> ChatWindow:
        # Notifications allowed: the "Enable notifications" button has nothing left to ask.
        context = self.browser.new_context(
            viewport=viewport, device_scale_factor=1, permissions=["notifications"]
        )
        window = ChatWindow(context.new_page(), self.server.url)
        return window.log_in(username, self.server.password)

    def shoot(self, window: ChatWindow, name: str, into: Path | None = None) -> Path:
        path = (into or self.output) / name
        # No row or button left looking hovered, no focus ring: only one window has focus.
        window.page.mouse.move(0, 0)
        window.page.evaluate("document.activeElement?.blur()")
        window.page.evaluate("document.fonts.ready")
        window.page.screenshot(path=path, caret="hide", animations="disabled")
        assert not window.script_errors, window.script_errors
        if into is None:
            _report(path)
        return path

    def side_by_side(self, name: str, *pictures: Path) -> None:
        """One picture of several windows, as if on one desk (composed by Chromium itself)."""
        images = "".join(
            f'<img src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
            for p in pictures
        )
        page = self.browser.new_page(viewport={"width": 100, "height": 100})
        page.set_content(
            "<style>body{margin:0;background:#dfe3ea;display:inline-flex;gap:16px;"
            "padding:16px}img{display:block;border-radius:8px;"
            "box-shadow:0 2px 12px rgb(0 0 0 / 0.18)}</style>" + images
        )
        page.locator("body").screenshot(path=self.output / name)
        page.close()
        _report(self.output / name)


def _report(path: Path) -> None:
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def take_screenshots(studio: Studio) -> None:
    # bob reads alice's last message (the 1:1 shows "Seen"); carol is away (offline dot).
    bob = studio.window("bob")
    bob.open_conversation("alice")
    alice = studio.window("alice")
    alice.open_conversation("bob")
    expect(alice.history.get_by_text("Seen", exact=True)).to_be_visible(timeout=LIVE_MS)
    expect(alice.conversation_link("Weekend hike").locator(".badge")).to_be_visible()
    expect(alice.conversation_link("carol").locator(".presence")).to_have_attribute(
        "data-presence", "offline", timeout=LIVE_MS
    )
    expect(alice.conversation_link("bob").locator(".presence")).to_have_attribute(
        "data-presence", "online", timeout=LIVE_MS
    )
    studio.shoot(alice, "list.png")

    # Everyone reads the hike; alice starts answering: bob sees "Seen by" and "alice is typing…".
    carol = studio.window("carol", PHONE)
    carol.open_conversation("Weekend hike")
    alice.open_conversation("Weekend hike")
    bob.open_conversation("Weekend hike")
    expect(bob.history.get_by_text("Seen by alice, carol", exact=True)).to_be_visible(
        timeout=LIVE_MS
    )
    alice.page.get_by_role("textbox", name="Message").press_sequentially("Perfect, I can dri")
    for window in (bob, carol):
        expect(window.page.locator("#typing-indicator")).to_have_text(
            "alice is typing…", timeout=LIVE_MS
        )
    studio.shoot(bob, "typing-receipts.png")
    studio.shoot(carol, "phone.png")
    alice.page.get_by_role("textbox", name="Message").fill("")
    # Her draft is gone; "typing…" ends on its own a few seconds later (not in the next shots).
    expect(bob.conversation_link("Weekend hike")).not_to_contain_text("typing", timeout=8_000)

    # The book club: Dana's phone in the header with its SMS badge, her text in the history.
    alice.open_conversation("Book club")
    expect(alice.page.get_by_role("list", name="Text message participants")).to_be_visible()
    expect(alice.message("Thanks for adding me! Tuesday works, count me in.")).to_be_visible()
    studio.shoot(alice, "sms-group.png")

    # Two people chatting live, side by side.
    alice.page.set_viewport_size({"width": 760, "height": 560})
    bob.page.set_viewport_size({"width": 760, "height": 560})
    alice.open_conversation("bob")
    bob.open_conversation("alice")
    bob.send("Booked: wall 3, 6:30.")
    expect(alice.message("Booked: wall 3, 6:30.")).to_be_visible(timeout=LIVE_MS)
    expect(bob.message("Booked: wall 3, 6:30.").locator(".message__receipt")).to_have_text(
        "Seen", timeout=LIVE_MS
    )
    with tempfile.TemporaryDirectory() as scratch:
        left = studio.shoot(alice, "alice.png", into=Path(scratch))
        right = studio.shoot(bob, "bob.png", into=Path(scratch))
        studio.side_by_side("chat.png", left, right)


@contextmanager
def clean_parley() -> Iterator[ParleyServer]:
    """A fresh Parley with its own Redis and database, gone afterwards."""
    redis = start_redis()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="parley-shots-") as tmp,
            run_parley(
                Path(tmp), REDIS_URL=redis.url, TWILIO_PHONE_NUMBER=TWILIO_TEST_NUMBER
            ) as server,
        ):
            yield server
    finally:
        redis.stop()


def main(argv: list[str]) -> int:
    output = Path(argv[0]).resolve() if argv else OUTPUT
    output.mkdir(parents=True, exist_ok=True)
    with clean_parley() as server, sync_playwright() as playwright:
        seed(server)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            take_screenshots(Studio(browser, server, output))
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
