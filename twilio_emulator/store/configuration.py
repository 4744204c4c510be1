"""Services and configuration: the service, its configuration and webhooks, and the account's
global configuration and webhooks (`/v1/Configuration`, `/v1/Configuration/Webhooks`).

The emulator starts with one service (its default, which the `/v1/...` path form uses and
which cannot be deleted); more can be created and deleted. Role SIDs and timers are stored and
echoed back, never acted on (roles and timers are not emulated).
"""

from __future__ import annotations

from dataclasses import replace

from twilio_emulator import errors, limits, sids
from twilio_emulator.records import AccountConfig, Service, ServiceConfig, WebhookConfig
from twilio_emulator.store.base import StoreBase

WEBHOOK_METHODS = ("GET", "POST")
GLOBAL_TARGETS = ("webhook", "flex")


class ConfigurationOperations(StoreBase):
    """Reads and updates of service-level and account-level settings."""

    def list_services(self) -> list[Service]:
        with self._lock:
            return [replace(s) for s in self._services.values()]

    def get_service(self, sid: str) -> Service:
        with self._lock:
            return replace(self._service(sid))

    def create_service(self, friendly_name: str | None) -> Service:
        """A new, empty service with no webhooks configured, as Twilio creates one."""
        if not friendly_name:
            raise errors.bad_request(
                errors.INVALID_PARAMETER, "Missing required parameter FriendlyName in the post body"
            )
        limits.friendly_name(friendly_name)
        with self._mutation():
            service = Service(
                sids.new_sid(sids.SERVICE),
                friendly_name,
                WebhookConfig(sid=sids.new_sid(sids.WEBHOOK)),
                seq=self._next_seq(),
            )
            self._services[service.sid] = service
            return replace(service)

    def delete_service(self, sid: str) -> None:
        """Delete a service with its conversations and users (no webhooks fire, as on
        Twilio). The emulator's default service is refused: its paths would all go away."""
        with self._mutation():
            self._service(sid)
            if sid == self._default_service_sid:
                raise errors.bad_request(
                    errors.INVALID_PARAMETER,
                    f"The emulator's default service {sid} cannot be deleted",
                )
            for conv in [c for c in self._conversations.values() if c.service_sid == sid]:
                for part in self._participants.pop(conv.sid).values():
                    self._release_binding(part)
                self._drop_messages(conv.sid)
                self._conversation_webhooks.pop(conv.sid)
                self._unique_names.pop((sid, conv.unique_name or ""), None)
                del self._conversations[conv.sid]
            self._users = {k: u for k, u in self._users.items() if u.service_sid != sid}
            del self._services[sid]

    def get_service_config(self, service_sid: str) -> ServiceConfig:
        with self._lock:
            return replace(self._service(service_sid).config)

    def update_service_config(
        self,
        service_sid: str,
        *,
        role_sids: dict[str, str | None],
        reachability_enabled: bool | None,
    ) -> ServiceConfig:
        """`role_sids` maps a `ServiceConfig` field to a new RL SID (None: leave it)."""
        for value in role_sids.values():
            if value is not None and not sids.looks_like("RL", value):
                raise errors.bad_request(errors.INVALID_PARAMETER, f"Invalid Role SID: {value}")
        with self._mutation():
            config = self._service(service_sid).config
            for name, value in role_sids.items():
                if value is not None:
                    setattr(config, name, value)
            if reachability_enabled is not None:
                config.reachability_enabled = reachability_enabled
            return replace(config)

    def get_webhooks(self, service_sid: str) -> WebhookConfig:
        with self._lock:
            return replace(self._service(service_sid).webhooks)

    def update_webhooks(
        self,
        service_sid: str,
        *,
        pre_webhook_url: str | None,
        post_webhook_url: str | None,
        filters: tuple[str, ...] | None,
        method: str | None,
    ) -> WebhookConfig:
        with self._mutation():
            config = self._service(service_sid).webhooks
            _update(config, pre_webhook_url, post_webhook_url, filters, method)
            return replace(config)

    def get_account_config(self) -> AccountConfig:
        with self._lock:
            return replace(self._account)

    def update_account_config(
        self,
        *,
        default_chat_service_sid: str | None,
        default_messaging_service_sid: str | None,
        default_inactive_timer: str | None,
        default_closed_timer: str | None,
    ) -> AccountConfig:
        if default_messaging_service_sid is not None and not sids.looks_like(
            "MG", default_messaging_service_sid
        ):
            raise errors.bad_request(
                errors.INVALID_PARAMETER,
                f"Invalid Messaging Service SID: {default_messaging_service_sid}",
            )
        with self._mutation():
            if default_chat_service_sid is not None:
                self._service(default_chat_service_sid)  # 404 unless it is the emulator's
                self._account.default_chat_service_sid = default_chat_service_sid
            if default_messaging_service_sid is not None:
                self._account.default_messaging_service_sid = default_messaging_service_sid
            if default_inactive_timer is not None:
                self._account.default_inactive_timer = default_inactive_timer or None
            if default_closed_timer is not None:
                self._account.default_closed_timer = default_closed_timer or None
            return replace(self._account)

    def get_account_webhooks(self) -> WebhookConfig:
        with self._lock:
            return replace(self._account.webhooks)

    def update_account_webhooks(
        self,
        *,
        pre_webhook_url: str | None,
        post_webhook_url: str | None,
        filters: tuple[str, ...] | None,
        method: str | None,
        target: str | None,
    ) -> WebhookConfig:
        if target is not None and target not in GLOBAL_TARGETS:
            raise errors.bad_request(
                errors.INVALID_PARAMETER, f"Target must be one of {', '.join(GLOBAL_TARGETS)}"
            )
        with self._mutation():
            config = self._account.webhooks
            _update(config, pre_webhook_url, post_webhook_url, filters, method)
            if target is not None:
                config.target = target
            return replace(config)


def _update(
    config: WebhookConfig,
    pre_webhook_url: str | None,
    post_webhook_url: str | None,
    filters: tuple[str, ...] | None,
    method: str | None,
) -> None:
    """Apply the parameters that were sent; an empty URL clears it."""
    if method is not None and method.upper() not in WEBHOOK_METHODS:
        raise errors.bad_request(errors.INVALID_PARAMETER, "Method must be GET or POST")
    if pre_webhook_url is not None:
        config.pre_webhook_url = pre_webhook_url or None
    if post_webhook_url is not None:
        config.post_webhook_url = post_webhook_url or None
    if filters is not None:
        config.filters = filters
    if method is not None:
        config.method = method.upper()
