"""The events the webhooks plugin emits; an endpoint's events go to its owner (and admins)."""

from typing import Any

from kehu.core.event_types import EventType

SAFE = {
    "owner": "user id of the endpoint's owner",
    "url": "where it posts",
    "events": "the event names and globs it receives",
    "description": "what it is for",
    "active": "whether it receives events",
    "version": "version of the endpoint (optimistic locking)",
}


async def owners(actor: Any, events: list[Any]) -> set[str]:
    """The owner of an endpoint receives its events."""
    return {e.id for e in events if e.data.get("owner") == actor.user_id}


def _type(action: str, description: str, fields: dict[str, str] | None = None) -> EventType:
    return EventType(
        f"webhook.{action}",
        description,
        fields or SAFE,
        scope="webhook:manage",
        node="Webhook",
        visible=owners,
    )


WEBHOOK_EVENTS = [
    _type("created", "A webhook endpoint was created (its secret is never in events)."),
    _type("updated", "An endpoint changed: the changed fields, new values."),
    _type("deleted", "An endpoint was deleted."),
    _type(
        "secret_rotated",
        "An endpoint's signing secret was rotated.",
        {"owner": SAFE["owner"], "grace_hours": "hours the old secret keeps signing"},
    ),
    _type(
        "disabled",
        "An endpoint failing for a day was disabled (its owner got an e-mail).",
        {"owner": SAFE["owner"], "url": SAFE["url"], "reason": "the last failure"},
    ),
]
