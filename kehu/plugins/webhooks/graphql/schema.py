"""Webhooks GraphQL, table of contents: the root queries (webhooks, deliveries) and what
``plugin.py`` hands to Kehu."""

import strawberry

from kehu.core.errors import NotFound
from kehu.core.graphql.base import make_connection
from kehu.plugins.webhooks.graphql.inputs import _id
from kehu.plugins.webhooks.graphql.loaders import LOADERS
from kehu.plugins.webhooks.graphql.mutations.webhooks import WebhookMutations
from kehu.plugins.webhooks.graphql.types import (
    Webhook,
    WebhookConnection,
    WebhookDelivery,
    WebhookDeliveryConnection,
)
from kehu.plugins.webhooks.services import endpoints, sending


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


NODE_TYPES = [Webhook, WebhookDelivery]

QUERIES = [WebhooksQuery]
MUTATIONS = [WebhookMutations]
__all__ = ["LOADERS", "MUTATIONS", "NODE_TYPES", "QUERIES", "WebhooksQuery"]
