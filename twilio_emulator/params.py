"""Every form and query parameter of every operation the emulator serves, checked against
Twilio's own OpenAPI spec (`twilio-oai/`) before the view runs, so a malformed value gets
Twilio's 400 and never reaches the store.

Types (integer, boolean), formats (date-time, uri), enums, SID patterns and lengths come from
the spec itself; `FORMATS` adds the URL checks Twilio makes where its spec only says "string",
and `CODES` names Twilio's own error code where it has one (else 20001). Parameters the spec
does not list for an operation are ignored, as Twilio ignores them. An empty value means "not
set" (or "clear") to the views, so it is left to them. Paging bounds stay with `paging`, which
answers Twilio's 20007 above 1000.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, request

from twilio_emulator import errors

SPEC_PATH = Path(__file__).parent / "twilio-oai" / "twilio_conversations_v1.json"
FORM = "application/x-www-form-urlencoded"
DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
Schema = dict[str, Any]

#: Formats the spec leaves out: Twilio refuses a webhook URL that is not one, and reads these
#: dates as ISO 8601.
FORMATS = {
    "PreWebhookUrl": "uri",
    "PostWebhookUrl": "uri",
    "Configuration.Url": "uri",
    "LastReadTimestamp": "date-time",
    "StartDate": "date-time",
    "EndDate": "date-time",
}

#: Twilio's code for a malformed value, by parameter name or by the name of its enum schema.
CODES = {
    "PreWebhookUrl": errors.INVALID_PRE_WEBHOOK_URL,
    "PostWebhookUrl": errors.INVALID_POST_WEBHOOK_URL,
    "MessagingServiceSid": errors.INVALID_MESSAGING_SERVICE_SID,
    "DefaultMessagingServiceSid": errors.INVALID_MESSAGING_SERVICE_SID,
    "MediaSid": errors.INVALID_MEDIA_SID,
    "ContentSid": errors.INVALID_CONTENT_SID,
    "conversation_scoped_webhook_enum_target": errors.INVALID_WEBHOOK_TARGET,
    "service_conversation_scoped_webhook_enum_target": errors.INVALID_WEBHOOK_TARGET,
}


@dataclass(frozen=True)
class Param:
    """One parameter of an operation: where it travels, its resolved schema, its error code."""

    name: str
    source: str  # "form" or "query"
    schema: Schema
    code: int


def init_blueprint(bp: Blueprint) -> None:
    """Check each request to `bp` against its operation's parameters (after authentication,
    which the app checks first, as Twilio answers 401 before 400)."""

    @bp.before_request
    def _check_parameters() -> None:
        rule = request.url_rule
        if rule is None:
            return
        for param in operation_params(template(rule.rule), request.method.lower()):
            values = request.form if param.source == "form" else request.args
            for value in values.getlist(param.name):
                check(param, value)


def template(rule: str) -> str:
    """A werkzeug rule (`/v1/Conversations/<sid>`) in the spec's form, variables unnamed."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", rule)


@cache
def spec() -> Schema:
    loaded: Schema = json.loads(SPEC_PATH.read_text())
    return loaded


@cache
def operation_params(path: str, method: str) -> tuple[Param, ...]:
    """The form and query parameters the spec lists for one operation (none if unknown)."""
    paths = {template(key): item for key, item in spec()["paths"].items()}
    operation = paths.get(path, {}).get(method)
    if operation is None:
        return ()
    query = [
        (p["name"], p["schema"]) for p in operation.get("parameters", []) if p["in"] == "query"
    ]
    body = operation.get("requestBody", {}).get("content", {}).get(FORM, {}).get("schema", {})
    form = list(body.get("properties", {}).items())
    return (*_params(query, "query"), *_params(form, "form"))


def _params(raw: Iterable[tuple[str, Schema]], source: str) -> list[Param]:
    found = []
    for name, schema in raw:
        ref = schema.get("$ref", "").removeprefix("#/components/schemas/")
        code = CODES.get(name) or CODES.get(ref) or errors.INVALID_PARAMETER
        resolved = _resolve(schema)
        if name in FORMATS:
            resolved = {**resolved, "format": FORMATS[name]}
        found.append(Param(name, source, resolved, code))
    return found


def _resolve(schema: Schema) -> Schema:
    while "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def check(param: Param, value: str) -> None:
    """Raise Twilio's 400 if `value` does not fit the parameter's schema. An empty value
    means "not given", except for a SID (it has a pattern): no resource has an empty SID."""
    schema = param.schema
    if schema.get("type") == "array":
        schema = _resolve(schema.get("items", {}))
    if value == "" and "pattern" not in schema:
        return
    problem = _problem(schema, value)
    if problem:
        raise errors.bad_request(param.code, f"Invalid {param.name}: {problem}")


def _problem(schema: Schema, value: str) -> str | None:
    """What is wrong with `value` for `schema`, or None."""
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "integer" and not re.fullmatch(r"[+-]?[0-9]{1,18}", value):
        return "must be an integer"
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return "must be true or false"
    if "enum" in schema and value.lower() not in {str(e).lower() for e in schema["enum"]}:
        return f"must be one of {', '.join(map(str, schema['enum']))}"
    if fmt == "date-time" and parse_date_time(value) is None:
        return "must be an ISO 8601 date-time with a time zone"
    if fmt == "uri" and not _is_url(value):
        return "must be an absolute http or https URL"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return f"must match {schema['pattern']}"
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
        return "has the wrong length"
    return None


def parse_date_time(value: str) -> datetime | None:
    """An ISO 8601 date-time with a time zone (as the `twilio` library sends it,
    `2024-01-02T03:04:05Z`) or a bare date (its midnight, UTC), in UTC; None if it is neither
    or falls outside years 1-9999."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None and DATE_ONLY.fullmatch(value):
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def _is_url(value: str) -> bool:
    """Scheme http(s), a host, a valid port, and nothing a URL cannot hold (spaces, controls)."""
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" for ch in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
