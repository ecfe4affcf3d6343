"""Webhooks GraphQL output types: ``Webhook`` (its secret shown once) and its deliveries.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup."""

import datetime as dt
from typing import Any

import strawberry

from kehu.core.graphql.base import Node, connection, encode_id, make_connection
from kehu.core.graphql.types import UserRef
from kehu.core.services.common import load_json
from kehu.plugins.webhooks.services import sending


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
