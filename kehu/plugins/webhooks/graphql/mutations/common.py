"""Payload types of the webhooks mutations."""

import strawberry

from kehu.core.graphql.base import (
    UserError,
)
from kehu.plugins.webhooks.graphql.types import Webhook, WebhookDelivery


@strawberry.type
class CreateWebhookPayload:
    webhook: Webhook | None
    errors: list[UserError]


@strawberry.type
class UpdateWebhookPayload:
    webhook: Webhook | None
    errors: list[UserError]


@strawberry.type
class DeleteWebhookPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class PingWebhookPayload:
    delivery: WebhookDelivery | None
    errors: list[UserError]


@strawberry.type
class RedeliverWebhookEventPayload:
    scheduled: int | None
    errors: list[UserError]
