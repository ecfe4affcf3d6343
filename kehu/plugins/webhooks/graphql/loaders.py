"""The webhooks plugin's DataLoader batch functions (``LOADERS``)."""

from typing import Any

from kehu.plugins.webhooks.graphql.types import Webhook
from kehu.plugins.webhooks.services import endpoints


async def load_webhooks(ctx: Any, keys: list[int]) -> list[Webhook | None]:
    found = await endpoints.webhooks_by_ids(ctx.actor, keys)
    return [Webhook.from_row(found[k]) if k in found else None for k in keys]


LOADERS = {"webhooks_webhook": load_webhooks}
