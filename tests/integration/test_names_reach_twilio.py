"""A new password account's name, and a host user's at sign-in, reach Twilio's User resource,
so the host's own Twilio clients show them too (over real HTTP: gunicorn, the emulator)."""

from __future__ import annotations

import re
import uuid

import requests

from tests.support import host_site
from tests.support.clients import ApiClient
from tests.support.servers import ParleyServer
from twilio_emulator.credentials import EMULATOR_ACCOUNT_SID, EMULATOR_SERVICE_SID


def test_registration_names_the_twilio_user(parley_server: ParleyServer) -> None:
    name = "reg" + uuid.uuid4().hex[:8]
    visitor = ApiClient(parley_server.url)
    page = visitor.session.get(parley_server.url + "/register", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert token
    form = {"username": name, "password": "secret-pass-1", "confirm": "secret-pass-1"}
    answer = visitor.session.post(
        parley_server.url + "/register", data={**form, "csrf_token": token.group(1)}, timeout=10
    )
    assert answer.status_code == 200, answer.text  # the chat, after the redirect
    user = requests.get(
        f"{parley_server.url}/_emulator/v1/Services/{EMULATOR_SERVICE_SID}/Users/{name}",
        auth=(EMULATOR_ACCOUNT_SID, parley_server.auth_token),
        timeout=10,
    )
    assert user.status_code == 200, user.text
    assert user.json()["friendly_name"] == name


def test_a_host_sign_in_names_the_twilio_user(sso_parley_server: ParleyServer) -> None:
    identity, name = "host-" + uuid.uuid4().hex[:8], "Grace Hopper"

    host_site.signed_in(sso_parley_server.url, identity, name=name)

    user = requests.get(
        f"{sso_parley_server.url}/_emulator/v1/Services/{EMULATOR_SERVICE_SID}/Users/{identity}",
        auth=(EMULATOR_ACCOUNT_SID, sso_parley_server.auth_token),
        timeout=10,
    )
    assert user.status_code == 200, user.text
    assert user.json()["friendly_name"] == name
