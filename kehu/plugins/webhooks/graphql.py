"""Webhooks in GraphQL: ``webhooks``, ``webhook``, ``webhookDeliveries``; ``createWebhook``,
``updateWebhook``, ``deleteWebhook``, ``rotateWebhookSecret``, ``pingWebhook``,
``redeliverWebhookEvent``.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
"""

import datetime as dt
from typing import Any

import strawberry

from kehu.core.errors import NotFound
from kehu.core.graphql.base import (
    Node,
    UserError,
    connection,
    encode_id,
    make_connection,
    payload,
    pk_of,
)
from kehu.core.graphql.types import UserRef
from kehu.core.services.common import load_json
from kehu.plugins.webhooks.services import endpoints, sending


@strawberry.type(description="One HTTP attempt to deliver an event (the delivery log).")
class WebhookDelivery:
    database_id: int
    event_id: str = strawberry.field(description="The webhook-id header (stable per event).")
    event_name: str
    event_seq: int
    attempt: int
    succeeded: bool
    response_status: int | None
    latency_ms: int
    response_excerpt: str = strawberry.field(description="The first KiB of the answer.")
    error: str
    will_retry: bool
    created_at: dt.datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> "WebhookDelivery":
        return cls(
            database_id=row["id"],
            event_id=row["event_id"],
            event_name=row["event_name"],
            event_seq=row["event"],
            attempt=row["attempt"],
            succeeded=row["succeeded"],
            response_status=row["response_status"],
            latency_ms=row["latency_ms"],
            response_excerpt=row["response_excerpt"],
            error=row["error"],
            will_retry=row["will_retry"],
            created_at=row["created_at"],
        )


WebhookDeliveryConnection = connection("WebhookDelivery", WebhookDelivery)


@strawberry.type(description="An endpoint that receives signed events (Standard Webhooks).")
class Webhook(Node):
    pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int]
    database_id: int
    url: str
    events: list[str] = strawberry.field(description="Event names and globs it receives.")
    description: str
    payload_query: str | None
    active: bool
    disabled_reason: str
    failing_since: dt.datetime | None
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    secret: str | None = strawberry.field(
        description="The signing secret (whsec_...): only in the result of createWebhook "
        "and rotateWebhookSecret; store it, it is not shown again."
    )
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict[str, Any], secret: str | None = None) -> "Webhook":
        return cls(
            id=encode_id("Webhook", row["id"]),
            pk=row["id"],
            owner_pk=row["owner"],
            database_id=row["id"],
            url=row["url"],
            events=load_json(row["events"]),
            description=row["description"],
            payload_query=row["payload_query"] or None,
            active=row["active"],
            disabled_reason=row["disabled_reason"],
            failing_since=row["failing_since"],
            last_success_at=row["last_success_at"],
            last_failure_at=row["last_failure_at"],
            secret=secret,
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        return await info.context.loader("webhooks_webhook").load(pk)

    @strawberry.field
    async def owner(self, info: strawberry.Info) -> UserRef | None:
        return await info.context.loader("user").load(self.owner_pk)

    @strawberry.field(description="The delivery log of this endpoint, newest first.")
    async def deliveries(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        succeeded: bool | None = None,
    ) -> WebhookDeliveryConnection:
        page, count = await sending.list_attempts(
            info.context.actor, self.pk, succeeded=succeeded, first=first, after=after
        )
        return make_connection("WebhookDelivery", page, WebhookDelivery.of, count)


WebhookConnection = connection("Webhook", Webhook)


async def load_webhooks(ctx: Any, keys: list[int]) -> list[Webhook | None]:
    found = await endpoints.webhooks_by_ids(ctx.actor, keys)
    return [Webhook.from_row(found[k]) if k in found else None for k in keys]


LOADERS = {"webhooks_webhook": load_webhooks}


def _id(value: strawberry.ID, field: str = "id") -> int:
    return pk_of(value, "Webhook", field)  # type: ignore[return-value]


@strawberry.type
class WebhooksQuery:
    @strawberry.field(description="Your webhook endpoints (all of them for admins).")
    async def webhooks(
        self, info: strawberry.Info, first: int = 20, after: str | None = None
    ) -> WebhookConnection:
        actor = info.context.actor
        page = await endpoints.list_webhooks(actor, first=first, after=after)
        return make_connection(
            "Webhook", page, Webhook.from_row, lambda: endpoints.count_webhooks(actor)
        )

    @strawberry.field
    async def webhook(self, info: strawberry.Info, id: strawberry.ID) -> Webhook:
        found = await info.context.loader("webhooks_webhook").load(_id(id))
        if found is None:
            raise NotFound(f"Webhook {id} not found")
        return found

    @strawberry.field(description="The delivery log of an endpoint, newest first.")
    async def webhook_deliveries(
        self,
        info: strawberry.Info,
        webhook_id: strawberry.ID,
        first: int = 20,
        after: str | None = None,
        succeeded: bool | None = None,
    ) -> WebhookDeliveryConnection:
        page, count = await sending.list_attempts(
            info.context.actor,
            _id(webhook_id, "webhookId"),
            succeeded=succeeded,
            first=first,
            after=after,
        )
        return make_connection("WebhookDelivery", page, WebhookDelivery.of, count)


@strawberry.input
class CreateWebhookInput:
    url: str
    events: list[str] = strawberry.field(description='Names or globs, e.g. ["contract.*"].')
    description: str = ""
    payload_query: str | None = strawberry.field(
        default=None,
        description="A GraphQL query run as you to shape each payload; variables $id (the "
        "entity's global id) and $eventId.",
    )


@strawberry.type
class CreateWebhookPayload:
    webhook: Webhook | None
    errors: list[UserError]


@strawberry.input
class UpdateWebhookInput:
    id: strawberry.ID
    expected_version: int | None = None
    url: str | None = strawberry.UNSET
    events: list[str] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    payload_query: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.type
class UpdateWebhookPayload:
    webhook: Webhook | None
    errors: list[UserError]


@strawberry.input
class WebhookIdInput:
    id: strawberry.ID


@strawberry.type
class DeleteWebhookPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.input
class RotateWebhookSecretInput:
    id: strawberry.ID
    grace_hours: float | None = strawberry.field(
        default=None, description="How long the old secret keeps signing (default 24)."
    )


@strawberry.type
class PingWebhookPayload:
    delivery: WebhookDelivery | None
    errors: list[UserError]


@strawberry.input
class RedeliverWebhookEventInput:
    webhook_id: strawberry.ID
    event_id: str = strawberry.field(description="The event's id (webhook-id) or position.")


@strawberry.type
class RedeliverWebhookEventPayload:
    scheduled: int | None
    errors: list[UserError]


_UPDATABLE = ("url", "events", "description", "payload_query", "active")


@strawberry.type
class WebhooksMutation:
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


TYPES = [Webhook, WebhookDelivery]
