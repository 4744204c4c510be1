"""Configuration and webhook records to Twilio's JSON: the service, its configuration and
webhooks, the account's configuration and global webhooks, conversation-scoped webhooks.

Field sets follow the spec's component schemas (`conversations.v1.service`,
`...service.service_configuration`, `...service_webhook_configuration`,
`conversations.v1.configuration`, `...configuration.configuration_webhook`,
`...conversation.conversation_scoped_webhook`); the contract tests compare them.
"""

from __future__ import annotations

from twilio_emulator.records import (
    AccountConfig,
    ConversationWebhook,
    Service,
    ServiceConfig,
    WebhookConfig,
)
from twilio_emulator.resources import HOST, Json, Scope, rest_date, with_service

SERVICE_LINKS = {
    "conversations": "Conversations",
    "users": "Users",
    "roles": "Roles",
    "bindings": "Bindings",
    "configuration": "Configuration",
    "participant_conversations": "ParticipantConversations",
    "conversation_with_participants": "ConversationWithParticipants",
}


def service(scope: Scope, record: Service) -> Json:
    url = f"{HOST}/v1/Services/{record.sid}"
    return {
        "account_sid": scope.account_sid,
        "sid": record.sid,
        "friendly_name": record.friendly_name,
        "date_created": rest_date(record.date_created),
        "date_updated": rest_date(record.date_updated),
        "url": url,
        "links": {name: f"{url}/{path}" for name, path in SERVICE_LINKS.items()},
    }


def service_config(scope: Scope, record: ServiceConfig) -> Json:
    url = f"{HOST}/v1/Services/{scope.service_sid}/Configuration"
    return {
        "chat_service_sid": scope.service_sid,
        "default_conversation_creator_role_sid": record.default_conversation_creator_role_sid,
        "default_conversation_role_sid": record.default_conversation_role_sid,
        "default_chat_service_role_sid": record.default_chat_service_role_sid,
        "url": url,
        "links": {"notifications": f"{url}/Notifications", "webhooks": f"{url}/Webhooks"},
        "reachability_enabled": record.reachability_enabled,
    }


def webhook_config(scope: Scope, record: WebhookConfig) -> Json:
    return {
        "account_sid": scope.account_sid,
        "chat_service_sid": scope.service_sid,
        "pre_webhook_url": record.pre_webhook_url,
        "post_webhook_url": record.post_webhook_url,
        "filters": list(record.filters),
        "method": record.method,
        "url": f"{HOST}/v1/Services/{scope.service_sid}/Configuration/Webhooks",
    }


def account_config(scope: Scope, record: AccountConfig) -> Json:
    return {
        "account_sid": scope.account_sid,
        "default_chat_service_sid": record.default_chat_service_sid,
        "default_messaging_service_sid": record.default_messaging_service_sid,
        "default_inactive_timer": record.default_inactive_timer,
        "default_closed_timer": record.default_closed_timer,
        "url": f"{HOST}/v1/Configuration",
        "links": {
            "service": f"{HOST}/v1/Services/{record.default_chat_service_sid}/Configuration",
            "webhooks": f"{HOST}/v1/Configuration/Webhooks",
        },
    }


def account_webhooks(scope: Scope, record: WebhookConfig) -> Json:
    return {
        "account_sid": scope.account_sid,
        "method": record.method,
        "filters": list(record.filters),
        "pre_webhook_url": record.pre_webhook_url,
        "post_webhook_url": record.post_webhook_url,
        "target": record.target,
        "url": f"{HOST}/v1/Configuration/Webhooks",
    }


def _scoped_configuration(record: ConversationWebhook) -> Json:
    """Shaped per target as in Twilio's examples: a studio hook shows its flow; a trigger
    hook lists its keywords under `filters`."""
    if record.target == "studio":
        return {"flow_sid": record.flow_sid}
    keywords = record.triggers if record.target == "trigger" else record.filters
    return {"url": record.url, "method": record.method, "filters": list(keywords)}


def conversation_webhook(scope: Scope, record: ConversationWebhook) -> Json:
    return with_service(
        scope,
        {
            "account_sid": scope.account_sid,
            "conversation_sid": record.conversation_sid,
            "sid": record.sid,
            "target": record.target,
            "url": f"{scope.conversation_url(record.conversation_sid)}/Webhooks/{record.sid}",
            "configuration": _scoped_configuration(record),
            "date_created": rest_date(record.date_created),
            "date_updated": rest_date(record.date_updated),
        },
    )
