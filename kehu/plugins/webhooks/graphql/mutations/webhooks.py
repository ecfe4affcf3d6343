"""Webhook mutations: create, update, delete, rotate the secret, ping, redeliver."""

import strawberry

from kehu.core.graphql.mutations import mutation
from kehu.plugins.webhooks.graphql.inputs import (
    CreateWebhookInput,
    RedeliverWebhookEventInput,
    RotateWebhookSecretInput,
    UpdateWebhookInput,
    WebhookIdInput,
    _id,
)
from kehu.plugins.webhooks.graphql.types import Webhook, WebhookDelivery
from kehu.plugins.webhooks.services import endpoints, sending

_UPDATABLE = ("url", "events", "description", "payload_query", "active")


@strawberry.type
class WebhookMutations:
    @mutation(
        description="Create an endpoint; the payload shows its secret once.",
        payload="CreateWebhookPayload",
        field="webhook",
    )
    async def create_webhook(self, info: strawberry.Info, input: CreateWebhookInput) -> Webhook:
        row, secret = await endpoints.create_webhook(
            info.context.actor,
            {
                "url": input.url,
                "events": input.events,
                "description": input.description,
                "payload_query": input.payload_query,
            },
        )
        return Webhook.from_row(row, secret)

    @mutation(
        description="Change an endpoint; active: true re-enables it.",
        payload="UpdateWebhookPayload",
        field="webhook",
    )
    async def update_webhook(self, info: strawberry.Info, input: UpdateWebhookInput) -> Webhook:
        data = {
            name: getattr(input, name)
            for name in _UPDATABLE
            if getattr(input, name) is not strawberry.UNSET
        }
        row = await endpoints.update_webhook(
            info.context.actor, _id(input.id), input.expected_version, data
        )
        return Webhook.from_row(row)

    @mutation(payload="DeleteWebhookPayload", field="deleted_id")
    async def delete_webhook(self, info: strawberry.Info, input: WebhookIdInput) -> strawberry.ID:
        await endpoints.delete_webhook(info.context.actor, _id(input.id))
        return input.id

    @mutation(
        description="A new secret, shown once; the old one signs on a while.",
        payload="UpdateWebhookPayload",
        field="webhook",
    )
    async def rotate_webhook_secret(
        self, info: strawberry.Info, input: RotateWebhookSecretInput
    ) -> Webhook:
        row, secret = await endpoints.rotate_secret(
            info.context.actor, _id(input.id), input.grace_hours
        )
        return Webhook.from_row(row, secret)

    @mutation(
        description="Send a signed webhook.ping now; returns the attempt.",
        payload="PingWebhookPayload",
        field="delivery",
    )
    async def ping_webhook(self, info: strawberry.Info, input: WebhookIdInput) -> WebhookDelivery:
        return WebhookDelivery.of(await sending.ping(info.context.actor, _id(input.id)))

    @mutation(
        description="Deliver one event to the endpoint again (same id).",
        payload="RedeliverWebhookEventPayload",
        field="scheduled",
    )
    async def redeliver_webhook_event(
        self, info: strawberry.Info, input: RedeliverWebhookEventInput
    ) -> int:
        return await sending.redeliver(
            info.context.actor, _id(input.webhook_id, "webhookId"), input.event_id
        )
