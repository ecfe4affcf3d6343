"""Webhook mutations: create, update, delete, rotate the secret, ping, redeliver."""

import strawberry

from kehu.core.graphql.base import (
    payload,
)
from kehu.plugins.webhooks.graphql.inputs import (
    CreateWebhookInput,
    RedeliverWebhookEventInput,
    RotateWebhookSecretInput,
    UpdateWebhookInput,
    WebhookIdInput,
    _id,
)
from kehu.plugins.webhooks.graphql.mutations.common import (
    CreateWebhookPayload,
    DeleteWebhookPayload,
    PingWebhookPayload,
    RedeliverWebhookEventPayload,
    UpdateWebhookPayload,
)
from kehu.plugins.webhooks.graphql.types import Webhook, WebhookDelivery
from kehu.plugins.webhooks.services import endpoints, sending

_UPDATABLE = ("url", "events", "description", "payload_query", "active")


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="Create an endpoint; the payload shows its secret once.")
    async def create_webhook(
        self, info: strawberry.Info, input: CreateWebhookInput
    ) -> CreateWebhookPayload:
        async def work() -> Webhook:
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

        return await payload(CreateWebhookPayload, "webhook", work)

    @strawberry.mutation(description="Change an endpoint; active: true re-enables it.")
    async def update_webhook(
        self, info: strawberry.Info, input: UpdateWebhookInput
    ) -> UpdateWebhookPayload:
        data = {
            name: getattr(input, name)
            for name in _UPDATABLE
            if getattr(input, name) is not strawberry.UNSET
        }

        async def work() -> Webhook:
            row = await endpoints.update_webhook(
                info.context.actor, _id(input.id), input.expected_version, data
            )
            return Webhook.from_row(row)

        return await payload(UpdateWebhookPayload, "webhook", work)

    @strawberry.mutation
    async def delete_webhook(
        self, info: strawberry.Info, input: WebhookIdInput
    ) -> DeleteWebhookPayload:
        async def work() -> strawberry.ID:
            await endpoints.delete_webhook(info.context.actor, _id(input.id))
            return input.id

        return await payload(DeleteWebhookPayload, "deleted_id", work)

    @strawberry.mutation(description="A new secret, shown once; the old one signs on a while.")
    async def rotate_webhook_secret(
        self, info: strawberry.Info, input: RotateWebhookSecretInput
    ) -> UpdateWebhookPayload:
        async def work() -> Webhook:
            row, secret = await endpoints.rotate_secret(
                info.context.actor, _id(input.id), input.grace_hours
            )
            return Webhook.from_row(row, secret)

        return await payload(UpdateWebhookPayload, "webhook", work)

    @strawberry.mutation(description="Send a signed webhook.ping now; returns the attempt.")
    async def ping_webhook(
        self, info: strawberry.Info, input: WebhookIdInput
    ) -> PingWebhookPayload:
        async def work() -> WebhookDelivery:
            return WebhookDelivery.of(await sending.ping(info.context.actor, _id(input.id)))

        return await payload(PingWebhookPayload, "delivery", work)

    @strawberry.mutation(description="Deliver one event to the endpoint again (same id).")
    async def redeliver_webhook_event(
        self, info: strawberry.Info, input: RedeliverWebhookEventInput
    ) -> RedeliverWebhookEventPayload:
        return await payload(
            RedeliverWebhookEventPayload,
            "scheduled",
            lambda: sending.redeliver(
                info.context.actor, _id(input.webhook_id, "webhookId"), input.event_id
            ),
        )
