"""Webhook signatures: computed as Twilio computes them, checked with twilio's validator."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from webapp.webhooks.signature import candidate_urls, is_valid_signature

TOKEN = "test-webhook-token"
URL = "https://chat.example.com/twilio/webhook"
PARAMS = {"EventType": "onMessageAdded", "Body": "hi", "ConversationSid": "CH" + "1" * 32}


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def test_valid_signature_is_accepted() -> None:
    assert is_valid_signature(TOKEN, [URL], PARAMS, sign(URL, PARAMS))


def test_tampered_body_is_rejected() -> None:
    signature = sign(URL, PARAMS)
    assert not is_valid_signature(TOKEN, [URL], {**PARAMS, "Body": "hijacked"}, signature)


def test_signature_for_another_url_is_rejected() -> None:
    signature = sign("https://evil.example.com/twilio/webhook", PARAMS)
    assert not is_valid_signature(TOKEN, [URL], PARAMS, signature)


def test_missing_or_empty_signature_is_rejected() -> None:
    assert not is_valid_signature(TOKEN, [URL], PARAMS, None)
    assert not is_valid_signature(TOKEN, [URL], PARAMS, "")


def test_signature_with_another_token_is_rejected() -> None:
    assert not is_valid_signature(TOKEN, [URL], PARAMS, sign(URL, PARAMS, "other-token"))


def test_public_url_is_tried_behind_a_proxy() -> None:
    internal = "http://10.1.2.3:5000/twilio/webhook?x=1"
    urls = candidate_urls(internal, URL)
    assert urls == [internal, URL + "?x=1"]
    assert is_valid_signature(TOKEN, urls, PARAMS, sign(URL + "?x=1", PARAMS))
    assert candidate_urls(URL, URL) == [URL]
