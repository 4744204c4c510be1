"""``flask twilio doctor``: checks a deployment's Twilio set-up end to end, read-only.

Each check yields a :class:`Finding` that says in plain words what is wrong and how to fix
it. Later checks need earlier ones (no service, no webhook to inspect), so a failed
prerequisite ends the run early rather than piling up consequences.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import requests
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from webapp.config import Config
from webapp.twilio_gateway import GatewayError
from webapp.twilio_gateway.errors import NOT_FOUND
from webapp.twilio_gateway.service_setup import (
    UNREACHABLE,
    check_credentials,
    fetch_service_name,
    read_webhooks,
    wanted_webhooks,
)

Severity = Literal["ok", "warning", "problem"]
#: A check that yields findings and returns whether the checks after it can go on.
Gate = Generator["Finding", None, bool]
#: An event type Parley acknowledges and ignores, so the probe changes nothing.
PROBE_EVENT = "onParleyDoctorProbe"
PROBE_TIMEOUT = 10.0
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1"}


@dataclass(frozen=True)
class Finding:
    severity: Severity
    check: str
    detail: str
    fix: str | None = None


def _setup_command(config: Config) -> str:
    return f"flask --app wsgi twilio setup --public-url {config.PUBLIC_BASE_URL}"


def run_checks(
    config: Config, client: Client, api_key_client: Client, events: tuple[str, ...]
) -> Iterator[Finding]:
    """Every check, in order; stops after a problem later checks depend on."""
    where = "Twilio" if config.LIVE_TWILIO else f"the emulator at {config.emulator_origin}"
    if not (yield from _credentials(config, client, api_key_client, where)):
        return
    if not (yield from _service(config, client)):
        return
    yield from _webhook_config(config, client, events)
    yield from _public_url(config)


def _credentials(config: Config, client: Client, api_key_client: Client, where: str) -> Gate:
    try:
        check_credentials(client)
    except GatewayError as exc:
        if exc.status == UNREACHABLE:
            yield _unreachable(where, exc)
            return False
        yield Finding(
            "problem",
            "account credentials",
            f"{where} refused TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN: {exc.message}",
            "Copy the Account SID and Auth Token again from the Twilio console (Account Info) "
            "into TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN. If the token was rotated, use the "
            "new primary token.",
        )
        return False
    yield Finding("ok", "account credentials", f"accepted by {where}")
    try:
        check_credentials(api_key_client)
    except GatewayError as exc:
        yield Finding(
            "problem",
            "API key",
            f"{where} refused TWILIO_API_KEY_SID/TWILIO_API_KEY_SECRET: {exc.message}; "
            "browsers' access tokens would be rejected too.",
            "Create a Standard API key in the Twilio console (Account > API keys & tokens) "
            "and set TWILIO_API_KEY_SID (SK...) and TWILIO_API_KEY_SECRET (shown only once).",
        )
    else:
        yield Finding("ok", "API key", "accepted")
    return True


def _unreachable(where: str, exc: GatewayError) -> Finding:
    """No answer at all: a network problem, not wrong credentials."""
    return Finding(
        "problem",
        "account credentials",
        f"{where} did not answer, so nothing could be checked: {exc.message}",
        "Check that this machine can reach https://conversations.twilio.com (a proxy or "
        "firewall?); with the emulator, that it runs at TWILIO_EMULATOR_URL.",
    )


def _service(config: Config, client: Client) -> Gate:
    sid = config.TWILIO_CONVERSATIONS_SERVICE_SID
    if not sid:
        yield Finding(
            "problem",
            "Conversations service",
            "TWILIO_CONVERSATIONS_SERVICE_SID is not set.",
            f"Run `{_setup_command(config)}` and set the SID it prints.",
        )
        return False
    try:
        name = fetch_service_name(client, sid)
    except GatewayError as exc:
        missing = exc.code == NOT_FOUND
        yield Finding(
            "problem",
            "Conversations service",
            f"service {sid} does not exist in this account."
            if missing
            else f"could not fetch service {sid}: {exc.message}",
            "Check TWILIO_CONVERSATIONS_SERVICE_SID (Console > Conversations > Services), or "
            f"unset it and run `{_setup_command(config)}` to find or create one.",
        )
        return False
    yield Finding("ok", "Conversations service", f"{sid} ({name})")
    return True


def _webhook_config(config: Config, client: Client, events: tuple[str, ...]) -> Iterator[Finding]:
    sid = config.TWILIO_CONVERSATIONS_SERVICE_SID
    try:
        current = read_webhooks(client, sid)
    except GatewayError as exc:
        yield Finding("problem", "webhook configuration", exc.message, None)
        return
    wanted = wanted_webhooks(config.PUBLIC_BASE_URL, events)
    fix = f"Run `{_setup_command(config)}`."
    if current.url != wanted.url:
        yield Finding(
            "problem",
            "webhook URL",
            f"Twilio posts events to {current.url or 'nowhere (no post-event webhook)'}, "
            f"not to {wanted.url}: nobody's browser would hear about new messages.",
            fix,
        )
    else:
        yield Finding("ok", "webhook URL", str(current.url))
    if current.method.upper() != wanted.method:
        yield Finding(
            "problem",
            "webhook method",
            f"Twilio sends the webhook as {current.method}; Parley only accepts POST.",
            fix,
        )
    missing = sorted(wanted.filters - current.filters)
    extra = sorted(current.filters - wanted.filters)
    if missing:
        yield Finding(
            "problem",
            "webhook filters",
            f"Twilio does not send {', '.join(missing)}: those changes never reach browsers.",
            fix,
        )
    elif extra:
        yield Finding(
            "warning",
            "webhook filters",
            f"Twilio also sends {', '.join(extra)}, which Parley ignores (harmless requests).",
            fix,
        )
    else:
        yield Finding("ok", "webhook filters", ", ".join(sorted(current.filters)))
    if current.pre_url:
        yield Finding(
            "warning",
            "pre-event webhook",
            f"{current.pre_url} is asked before every action and can block it; Parley does "
            "not use pre-event webhooks.",
            "Remove it in the console (Conversations > Services > your service > Webhooks) "
            "unless another system needs it.",
        )


def _public_url(config: Config) -> Iterator[Finding]:
    url = config.webhook_url
    host = urlsplit(url).hostname or ""
    if config.LIVE_TWILIO and host in _LOCAL_HOSTS:
        yield Finding(
            "problem",
            "public URL",
            f"PUBLIC_BASE_URL is {config.PUBLIC_BASE_URL}, which Twilio cannot reach.",
            "Set PUBLIC_BASE_URL to the app's public https:// address (e.g. "
            "https://<app>.herokuapp.com), or a tunnel's URL in development.",
        )
        return
    if config.PRODUCTION and not url.startswith("https://"):
        yield Finding(
            "warning",
            "public URL",
            f"{config.PUBLIC_BASE_URL} is not https: webhooks and logins travel in clear.",
            "Use the https:// address in PUBLIC_BASE_URL and re-run `twilio setup`.",
        )
    params = {"EventType": PROBE_EVENT, "AccountSid": config.TWILIO_ACCOUNT_SID}
    signature = RequestValidator(config.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    try:
        signed = requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=PROBE_TIMEOUT
        )
        unsigned = requests.post(url, data=params, timeout=PROBE_TIMEOUT)
    except requests.RequestException as exc:
        yield Finding(
            "problem",
            "webhook endpoint",
            f"could not reach {url} ({exc.__class__.__name__}): Twilio cannot either.",
            "Check that the web process is running (`heroku ps`) and that PUBLIC_BASE_URL is "
            "its public address.",
        )
        return
    yield from _judge_probe(config, url, signed.status_code, unsigned.status_code)


def _judge_probe(config: Config, url: str, signed: int, unsigned: int) -> Iterator[Finding]:
    if signed in (401, 404, 405):
        yield Finding(
            "problem",
            "webhook endpoint",
            f"{url} answered {signed}, which Parley never does there: PUBLIC_BASE_URL does "
            "not point at Parley.",
            "Set PUBLIC_BASE_URL to the address Parley is served at.",
        )
    elif signed == 403:
        yield Finding(
            "problem",
            "webhook signature",
            f"{url} rejected a request signed the way Twilio signs it. Parley checks the "
            "signature against the URL it sees and against PUBLIC_BASE_URL; behind a proxy "
            "it sees http:// and an internal host, or the server uses another auth token.",
            "Set PUBLIC_BASE_URL to exactly the public URL (scheme and host) and TRUST_PROXY=1 "
            "behind Heroku's router or any proxy; make sure the web process and this command "
            "share the same TWILIO_AUTH_TOKEN.",
        )
    elif signed != 200:
        yield Finding(
            "problem",
            "webhook endpoint",
            f"{url} answered {signed} to a signed request; Twilio would retry and give up.",
            "Look at the web process's logs (`heroku logs --tail`) for the error.",
        )
    else:
        yield Finding("ok", "webhook endpoint", f"{url} accepts a signed request")
        if unsigned == 403:
            yield Finding("ok", "webhook signature", "unsigned requests are refused (403)")
        else:
            yield Finding(
                "problem",
                "webhook signature",
                f"{url} answered {unsigned} to an unsigned request instead of 403: something "
                "other than Parley answers there, or signatures are not checked.",
                "Make sure the URL reaches Parley directly (no rewriting proxy answering).",
            )
