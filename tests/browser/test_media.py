"""Photos and files in the page: alice pastes a screenshot and drops a PDF into the composer;
bob sees the thumbnail live, opens it full size (a keyboard-usable dialog that passes axe)
and gets the PDF as a file card; a refused file is a readable message and nothing is sent."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import LIVE_MS, PAGE_MS, ChatWindow
from tests.browser.test_accessibility import serious_violations
from tests.browser.test_sms_in_groups import group_name
from tests.integration.test_media_intake import upload
from tests.integration.test_sms_groups import (
    add_phone,
    new_phone,
    outbox,
    remove_phone,
    start_group,
)
from tests.support.clients import text_from_phone
from tests.support.servers import TWILIO_TEST_NUMBER, ParleyServer
from tests.support.waiting import wait_until
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID

PDF = b"%PDF-1.4\n%minutes of the meeting\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


#: A real 2x2 PNG, so the page can show that the thumbnail decoded.
SCREENSHOT = (
    b"\x89PNG\r\n\x1a\n"
    + _chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
    + _chunk(b"IDAT", zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\x00\xff" * 2))
    + _chunk(b"IEND", b"")
)


@pytest.fixture
def parley_server(sms_parley_server: ParleyServer) -> ParleyServer:
    """Parley with a Twilio number, so groups can take SMS participants."""
    return sms_parley_server


def put_files(window: ChatWindow, how: str, files: list[tuple[str, str, bytes]]) -> None:
    """Files reach the composer as a person gives them: a clipboard ``paste`` into the
    message box, or a ``drop`` on the composer (events carrying a real DataTransfer)."""
    window.page.evaluate(
        """([how, files]) => {
          const transfer = new DataTransfer();
          for (const [name, type, b64] of files) {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name, { type }));
          }
          const init = { bubbles: true, cancelable: true };
          if (how === 'paste') {
            const event = new ClipboardEvent('paste', { ...init, clipboardData: transfer });
            document.getElementById('composer-input').dispatchEvent(event);
          } else {
            const form = document.getElementById('composer');
            form.dispatchEvent(new DragEvent('dragover', { ...init, dataTransfer: transfer }));
            form.dispatchEvent(new DragEvent('drop', { ...init, dataTransfer: transfer }));
          }
        }""",
        [how, [[n, t, base64.b64encode(b).decode()] for n, t, b in files]],
    )


def test_a_pasted_screenshot_and_a_dropped_pdf_reach_bob_live(
    open_window, login, parley_server: ParleyServer
) -> None:
    sid = start_group(login("alice"), ["bob"])
    name = group_name(sid, login("alice"))
    alice, bob = open_window("alice"), open_window("bob")
    alice.open_conversation(name)
    bob.open_conversation(name)

    put_files(alice, "paste", [("image.png", "image/png", SCREENSHOT)])
    files = alice.page.get_by_role("list", name="Files to send")
    expect(files.get_by_role("listitem")).to_have_count(1)
    put_files(alice, "drop", [("minutes.pdf", "application/pdf", PDF)])
    expect(files.get_by_role("listitem")).to_have_count(2)
    files.get_by_role("button", name="Remove minutes.pdf").click()
    expect(files.get_by_role("listitem")).to_have_count(1)
    alice.page.get_by_role("button", name="Send").click()
    expect(files).to_be_hidden(timeout=PAGE_MS)

    thumb = bob.history.get_by_role("button", name="Open image.png full size")
    expect(thumb).to_be_visible(timeout=LIVE_MS)
    loaded = "(img) => img.complete && img.naturalWidth === 2 && img.src.includes('/api/media/ME')"
    bob.page.wait_for_function(f"() => ({loaded})(document.querySelector('.media-thumb img'))")
    preview = bob.conversation_link(name)
    expect(preview).to_contain_text("Photo")

    thumb.focus()
    bob.page.keyboard.press("Enter")
    dialog = bob.page.get_by_role("dialog", name="image.png")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    assert serious_violations(bob.page) == []
    bob.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(thumb).to_be_focused()

    # A PDF with a caption, picked with the paperclip's file chooser.
    with alice.page.expect_file_chooser() as chooser:
        alice.page.get_by_role("button", name="Attach photos or files").click()
    chooser.value.set_files(
        files=[{"name": "minutes.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    alice.send("The minutes")
    card = bob.history.get_by_role("link", name=f"Download minutes.pdf, {len(PDF)} bytes")
    expect(card).to_be_visible(timeout=LIVE_MS)
    expect(card).to_contain_text("application/pdf")
    expect(bob.message("The minutes")).to_be_visible()


def test_a_mislabelled_file_is_refused_in_words_and_nothing_is_sent(
    open_window, login, parley_server: ParleyServer
) -> None:
    sid = start_group(login("alice"), ["bob"])
    name = group_name(sid, login("alice"))
    alice = open_window("alice")
    alice.open_conversation(name)
    put_files(alice, "drop", [("fake.png", "image/png", b"<script>alert(1)</script>")])
    alice.page.get_by_role("button", name="Send").click()
    error = alice.page.locator("#composer-error")
    expect(error).to_contain_text("is not the image/png it claims", timeout=PAGE_MS)
    expect(alice.page.get_by_role("list", name="Files to send")).to_be_visible()
    expect(alice.history.get_by_role("listitem")).to_have_count(0)
    put_files(alice, "drop", [("empty.txt", "text/plain", b"")])
    expect(error).to_contain_text("empty.txt is empty")


def test_a_photo_to_a_group_with_phones_shows_each_phones_delivery(
    open_window, login, parley_server: ParleyServer
) -> None:
    alice_api = login("alice")
    sid = start_group(alice_api, ["bob"])
    name = group_name(sid, alice_api)
    phone, failing = new_phone(), "+15550030003"  # a magic number: fails with 30003
    for number in (phone, failing):
        assert add_phone(alice_api, sid, number).status_code == 201
    alice = open_window("alice")
    alice.open_conversation(name)

    put_files(alice, "paste", [("image.png", "image/png", SCREENSHOT)])
    alice.send("For the phones")
    message = alice.message("For the phones")
    expect(message.get_by_text(f"{phone}: Delivered")).to_be_visible(timeout=LIVE_MS)
    expect(
        message.get_by_text(f"{failing}: Not delivered: the phone is switched off or out of reach")
    ).to_be_visible()

    # After a reload the summary says some phone did not get it, so the page asks Twilio's
    # Receipts list at once and shows each phone again, as it did live.
    alice.page.reload()
    alice.wait_for_conversations()
    message = alice.message("For the phones")
    expect(message.get_by_text(f"{phone}: Delivered")).to_be_visible(timeout=PAGE_MS)
    expect(
        message.get_by_text(f"{failing}: Not delivered: the phone is switched off or out of reach")
    ).to_be_visible()

    # A message every phone got shows the summary: a button that shows each phone when pressed.
    assert remove_phone(alice_api, sid, failing).status_code in (200, 204)
    alice.send("All good")
    expect(alice.message("All good").get_by_text(f"{phone}: Delivered")).to_be_visible(
        timeout=LIVE_MS
    )
    alice.page.reload()
    alice.wait_for_conversations()
    good = alice.message("All good")
    good.get_by_role("button", name="Delivered").click()
    expect(good.get_by_text(f"{phone}: Delivered")).to_be_visible(timeout=PAGE_MS)

    def mms() -> dict[str, Any] | None:
        return next((e for e in outbox(parley_server) if e.get("to") == phone), None)

    assert "image.png" in str(wait_until(mms, 10, "the MMS in the outbox"))


def test_a_photo_from_whatsapp_shows_with_its_own_badge(
    open_window, login, parley_server: ParleyServer
) -> None:
    alice_api = login("alice")
    sid = start_group(alice_api, ["bob"])
    name = group_name(sid, alice_api)
    sender = f"whatsapp:{new_phone()}"
    joined = requests.post(
        f"{parley_server.url}/_emulator/v1/Services/{EMULATOR_SERVICE_SID}/Conversations/{sid}/Participants",
        data={
            "MessagingBinding.Address": sender,
            "MessagingBinding.ProxyAddress": f"whatsapp:{TWILIO_TEST_NUMBER}",
        },
        headers={"X-Twilio-Webhook-Enabled": "true"},
        auth=(EMULATOR_ACCOUNT_SID, parley_server.auth_token),
        timeout=10,
    )
    assert joined.status_code == 201, joined.text
    alice = open_window("alice")
    alice.open_conversation(name)
    expect(alice.page.get_by_role("list", name="Text message participants")).to_contain_text(
        "WhatsApp"
    )

    photo = upload(parley_server, SCREENSHOT, "view.png", "image/png")
    text_from_phone(parley_server, sender, sid, "", (photo,))
    thumb = alice.page.get_by_role("button", name="Open view.png full size")
    expect(alice.history.locator(thumb)).to_be_visible(timeout=LIVE_MS)
    message = alice.history.locator(".message").filter(has=thumb)
    expect(message.get_by_text("WhatsApp", exact=True)).to_be_visible()
    expect(alice.conversation_link(name)).to_contain_text(f"{sender} (WhatsApp): Photo")


def test_the_upload_shows_a_progress_bar_until_it_is_sent(
    open_window, login, parley_server: ParleyServer
) -> None:
    sid = start_group(login("alice"), ["bob"])
    name = group_name(sid, login("alice"))
    alice = open_window("alice")
    alice.open_conversation(name)
    alice.page.evaluate(
        """() => {
          const bar = document.getElementById('composer-progress');
          window.__barShown = false;
          new MutationObserver(() => { if (!bar.hidden) window.__barShown = true; })
            .observe(bar, { attributes: true });
        }"""
    )
    put_files(alice, "drop", [("big.pdf", "application/pdf", PDF + b"0" * 3_000_000)])
    alice.send("A big one")
    expect(alice.history.get_by_role("link", name="Download big.pdf, 2.9 MB")).to_be_visible(
        timeout=PAGE_MS
    )
    assert alice.page.evaluate("() => window.__barShown")
    expect(alice.page.get_by_role("progressbar", name="Upload progress")).to_be_hidden()
