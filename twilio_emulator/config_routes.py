"""The Conversations v1 REST routes for configuration and webhooks: services, service
configuration and webhooks, the account's global configuration and webhooks, and
conversation-scoped webhooks (both path forms).
"""

from __future__ import annotations

from flask import Response, request

from twilio_emulator import config_resources
from twilio_emulator.store import WebhookSpec
from twilio_emulator.views import (
    MAX_PAGE,
    MAX_PAGE_WEBHOOKS,
    bp,
    deleted,
    form,
    form_bool,
    form_list,
    listing,
    reply,
    route,
    scope,
    store,
)

# -- services -----------------------------------------------------------------------------


@bp.get("/v1/Services")
def list_services() -> Response:
    where = scope(None)
    services = store().list_services()  # in creation order: the default one first
    return listing(
        "services",
        services,
        lambda s: config_resources.service(where, s),
        lambda s: s.seq,
        MAX_PAGE,
    )


@bp.post("/v1/Services")
def create_service() -> Response:
    service = store().create_service(form("FriendlyName"))
    return reply(config_resources.service(scope(None), service), 201)


@bp.route("/v1/Services/<sid>", methods=["GET", "DELETE"])
def fetch_service(sid: str) -> Response:
    if request.method == "DELETE":
        store().delete_service(sid)
        return deleted()
    return reply(config_resources.service(scope(None), store().get_service(sid)))


@bp.route("/v1/Services/<service_sid>/Configuration", methods=["GET", "POST"])
def service_configuration(service_sid: str) -> Response:
    if request.method == "GET":
        config = store().get_service_config(service_sid)
    else:
        config = store().update_service_config(
            service_sid,
            role_sids={
                "default_conversation_creator_role_sid": form("DefaultConversationCreatorRoleSid"),
                "default_conversation_role_sid": form("DefaultConversationRoleSid"),
                "default_chat_service_role_sid": form("DefaultChatServiceRoleSid"),
            },
            reachability_enabled=form_bool("ReachabilityEnabled"),
        )
    return reply(config_resources.service_config(scope(service_sid), config))


@bp.route("/v1/Services/<service_sid>/Configuration/Webhooks", methods=["GET", "POST"])
def service_webhooks(service_sid: str) -> Response:
    if request.method == "GET":
        config = store().get_webhooks(service_sid)
    else:
        config = store().update_webhooks(
            service_sid,
            pre_webhook_url=form("PreWebhookUrl"),
            post_webhook_url=form("PostWebhookUrl"),
            filters=form_list("Filters"),
            method=form("Method"),
        )
    return reply(config_resources.webhook_config(scope(service_sid), config))


# -- the account's global configuration ---------------------------------------------------


@bp.route("/v1/Configuration", methods=["GET", "POST"])
def account_configuration() -> Response:
    if request.method == "GET":
        config = store().get_account_config()
    else:
        config = store().update_account_config(
            default_chat_service_sid=form("DefaultChatServiceSid"),
            default_messaging_service_sid=form("DefaultMessagingServiceSid"),
            default_inactive_timer=form("DefaultInactiveTimer"),
            default_closed_timer=form("DefaultClosedTimer"),
        )
    return reply(config_resources.account_config(scope(None), config))


@bp.route("/v1/Configuration/Webhooks", methods=["GET", "POST"])
def account_webhooks() -> Response:
    if request.method == "GET":
        config = store().get_account_webhooks()
    else:
        config = store().update_account_webhooks(
            pre_webhook_url=form("PreWebhookUrl"),
            post_webhook_url=form("PostWebhookUrl"),
            filters=form_list("Filters"),
            method=form("Method"),
            target=form("Target"),
        )
    return reply(config_resources.account_webhooks(scope(None), config))


# -- conversation-scoped webhooks ---------------------------------------------------------


def _spec() -> WebhookSpec:
    return WebhookSpec(
        url=form("Configuration.Url"),
        method=form("Configuration.Method"),
        filters=form_list("Configuration.Filters"),
        triggers=form_list("Configuration.Triggers"),
        flow_sid=form("Configuration.FlowSid"),
    )


@route("/Conversations/<conversation_sid>/Webhooks", ["GET", "POST"])
def conversation_webhooks(service_sid: str | None, conversation_sid: str) -> Response:
    where = scope(service_sid)
    if request.method == "POST":
        hook = store().create_conversation_webhook(
            where.service_sid, conversation_sid, target=form("Target"), spec=_spec()
        )
        return reply(config_resources.conversation_webhook(where, hook), 201)
    found = store().list_conversation_webhooks(where.service_sid, conversation_sid)
    return listing(
        "webhooks",
        found,
        lambda h: config_resources.conversation_webhook(where, h),
        lambda h: h.seq,
        MAX_PAGE_WEBHOOKS,
    )


@route("/Conversations/<conversation_sid>/Webhooks/<sid>", ["GET", "POST", "DELETE"])
def conversation_webhook(service_sid: str | None, conversation_sid: str, sid: str) -> Response:
    where = scope(service_sid)
    if request.method == "DELETE":
        store().delete_conversation_webhook(where.service_sid, conversation_sid, sid)
        return deleted()
    if request.method == "GET":
        hook = store().get_conversation_webhook(where.service_sid, conversation_sid, sid)
    else:
        hook = store().update_conversation_webhook(
            where.service_sid, conversation_sid, sid, spec=_spec()
        )
    return reply(config_resources.conversation_webhook(where, hook))
