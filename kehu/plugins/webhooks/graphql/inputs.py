"""Webhooks GraphQL inputs."""

import strawberry

from kehu.core.graphql.base import pk_of


def _id(value: strawberry.ID, field: str = "id") -> int:
    return pk_of(value, "Webhook", field)  # type: ignore[return-value]


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


@strawberry.input
class UpdateWebhookInput:
    id: strawberry.ID
    expected_version: int | None = None
    url: str | None = strawberry.UNSET
    events: list[str] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    payload_query: str | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.input
class WebhookIdInput:
    id: strawberry.ID


@strawberry.input
class RotateWebhookSecretInput:
    id: strawberry.ID
    grace_hours: float | None = strawberry.field(
        default=None, description="How long the old secret keeps signing (default 24)."
    )


@strawberry.input
class RedeliverWebhookEventInput:
    webhook_id: strawberry.ID
    event_id: str = strawberry.field(description="The event's id (webhook-id) or position.")
