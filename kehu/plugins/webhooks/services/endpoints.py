"""Webhook endpoints: create, change, rotate the secret, delete; who may see them.

``webhook:manage`` (admins by default) is needed; an endpoint belongs to the user who made it
and is shown to them and to admins only. The signing secret is returned once, when made or
rotated, and stored encrypted.
"""

import base64
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from kehu.core.context import current
from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor
from kehu.core.secrets import decrypt, encrypt
from kehu.core.services.common import load_json, now, raise_if
from kehu.core.services.records import stale
from kehu.core.tables import EventDelivery, EventSubscriber, User
from kehu.plugins.webhooks.services import safety
from kehu.plugins.webhooks.settings import WebhooksSettings
from kehu.plugins.webhooks.tables import Webhook

ALLOWED_VARIABLES = {"id", "eventId"}
MAX_EVENT_PATTERNS = 50


def config() -> WebhooksSettings:
    return current().plugin_settings("webhooks")


def subscriber_name(webhook_id: int) -> str:
    return f"webhook:{webhook_id}"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def public(row: dict[str, Any]) -> dict[str, Any]:
    """The row without its (encrypted) secrets, events as a list."""
    out = {k: v for k, v in row.items() if k not in ("secret", "previous_secret")}
    out["events"] = load_json(row["events"]) if row.get("events") is not None else []
    return out


def check_payload_query(text: str) -> str | None:
    """Why ``text`` cannot shape payloads, or ``None``: one query, valid against the schema,
    using only the variables ``$id`` (the entity's global id) and ``$eventId``."""
    from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse, validate

    if len(text) > 10_000:
        return "payloadQuery is longer than 10000 characters"
    try:
        document = parse(text)
    except GraphQLError as exc:
        return f"payloadQuery does not parse: {exc.message}"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation != OperationType.QUERY:
        return "payloadQuery must hold exactly one query operation"
    names = {v.variable.name.value for v in operations[0].variable_definitions or []}
    if names - ALLOWED_VARIABLES:
        return (
            f"payloadQuery may only use the variables $id and $eventId, not "
            f"{', '.join('$' + n for n in sorted(names - ALLOWED_VARIABLES))}"
        )
    errors = validate(current().graphql().schema._schema, document)
    if errors:
        return f"payloadQuery is not valid: {errors[0].message}"
    return None


async def _clean(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if "url" in data or not partial:
        url = data.get("url")
        reason = await safety.check(url, safety.Policy.of(config()))
        if reason:
            code = "PRIVATE_URL" if "private" in reason else "INVALID_URL"
            errors.append(FieldError("url", reason, code))
        else:
            out["url"] = url.strip()
    if "events" in data or not partial:
        patterns = data.get("events") or []
        if not isinstance(patterns, list) or not patterns:
            errors.append(
                FieldError("events", "events needs at least one name or glob", "REQUIRED")
            )
        elif len(patterns) > MAX_EVENT_PATTERNS or any(
            not isinstance(p, str) or not 1 <= len(p) <= 100 for p in patterns
        ):
            errors.append(
                FieldError(
                    "events",
                    f"events takes 1..{MAX_EVENT_PATTERNS} names of at most 100 characters",
                    "INVALID",
                )
            )
        else:
            unknown = current().event_types.check_patterns(patterns)
            if unknown:
                errors.append(
                    FieldError(
                        "events",
                        f"No event matches {', '.join(map(repr, unknown))}; see the "
                        "catalogue (docs/events.md, query eventTypes)",
                        "UNKNOWN_EVENT",
                    )
                )
            out["events"] = sorted(set(patterns))
    if "description" in data:
        description = data.get("description") or ""
        if not isinstance(description, str) or len(description) > 500:
            errors.append(FieldError("description", "description: at most 500 characters"))
        out["description"] = description
    if "payload_query" in data:
        query = (data.get("payload_query") or "").strip()
        if query:
            reason = check_payload_query(query)
            if reason:
                errors.append(FieldError("payloadQuery", reason, "INVALID_PAYLOAD_QUERY"))
        out["payload_query"] = query
    if "active" in data and data["active"] is not None:
        out["active"] = bool(data["active"])
    raise_if(errors)
    return out


def _visible(query: Any, actor: Actor) -> Any:
    actor.require("webhook:manage")
    if actor.role != "admin" and not actor.is_system:
        query = query.where(Webhook.owner == actor.user_id)
    return query


async def get_webhook(actor: Actor, webhook_id: int) -> dict[str, Any]:
    row = await _visible(Webhook.select(), actor).where(Webhook.id == webhook_id).first()
    if row is None:
        raise NotFound(f"Webhook {webhook_id} not found")
    return row


async def webhooks_by_ids(actor: Actor, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await _visible(Webhook.select(), actor).where(Webhook.id.is_in(sorted(set(ids))))
    return {r["id"]: r for r in rows}


async def list_webhooks(actor: Actor, *, first: int = 20, after: str | None = None) -> Page:
    return await keyset_page(
        _visible(Webhook.select(), actor),
        sort=Webhook.id,
        pk=Webhook.id,
        descending=False,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )


async def count_webhooks(actor: Actor) -> int:
    return await _visible(Webhook.count(), actor)


async def _owner(actor: Actor, owner: str | None) -> int:
    """The endpoint's owner: the acting user, or (system actor) the named or first admin."""
    if actor.user_id is not None and owner is None:
        return actor.user_id
    query = User.select(User.id).where(User.active.eq(True))
    query = (
        query.where(User.username == owner)
        if owner
        else query.where(User.role == "admin").order_by(User.id)
    )
    row = await query.first()
    if row is None:
        raise ValidationFailed(
            FieldError(
                "owner",
                f"No active user {owner!r}" if owner else "No active admin to own the webhook",
                "NOT_FOUND",
            )
        )
    return row["id"]


async def create_webhook(
    actor: Actor, data: dict[str, Any], *, owner: str | None = None
) -> tuple[dict[str, Any], str]:
    """A new endpoint and its secret (shown once). It receives events committed from now."""
    actor.require("webhook:manage")
    values = await _clean(data, partial=False)
    owner_id = await _owner(actor, owner)
    secret = new_secret()
    at = now()
    async with unit_of_work():
        row = (
            await Webhook.insert(
                Webhook(
                    owner=owner_id,
                    url=values["url"],
                    events=json.dumps(values["events"]),
                    description=values.get("description", ""),
                    payload_query=values.get("payload_query", ""),
                    secret=await encrypt(secret),
                    created_at=at,
                    updated_at=at,
                )
            ).returning(*Webhook.all_columns())
        )[0]
        await EventSubscriber.insert(
            EventSubscriber(
                name=subscriber_name(row["id"]), position=await current().events.max_seq()
            )
        )
        await record(actor, "created", "webhook", row["id"], after=_audit(row))
    return row, secret


def _audit(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in public(row).items()
        if k in ("owner", "url", "events", "description", "active", "version")
    }


async def update_webhook(
    actor: Actor, webhook_id: int, expected_version: int | None, data: dict[str, Any]
) -> dict[str, Any]:
    """Change url, events, description, payloadQuery or active (re-enabling a disabled
    endpoint clears its failure state; it resumes where it stopped)."""
    values = await _clean(data, partial=True)
    async with unit_of_work():
        before = await get_webhook(actor, webhook_id)
        if expected_version is not None and before["version"] != expected_version:
            raise stale("webhook", webhook_id, expected_version)
        changes: dict[Any, Any] = {
            getattr(Webhook, k): (json.dumps(v) if k == "events" else v) for k, v in values.items()
        }
        if values.get("active") and not before["active"]:
            changes[Webhook.failing_since] = None
            changes[Webhook.disabled_reason] = ""
            await EventSubscriber.update(
                {EventSubscriber.paused_until: None, EventSubscriber.failures: 0}
            ).where(EventSubscriber.name == subscriber_name(webhook_id))
        changes[Webhook.version] = before["version"] + 1
        changes[Webhook.updated_at] = now()
        after = (
            await Webhook.update(changes)
            .where(Webhook.id == webhook_id)
            .returning(*Webhook.all_columns())
        )[0]
        await record(actor, "updated", "webhook", webhook_id, _audit(before), _audit(after))
    return after


async def delete_webhook(actor: Actor, webhook_id: int) -> int:
    async with unit_of_work():
        before = await get_webhook(actor, webhook_id)
        name = subscriber_name(webhook_id)
        await EventDelivery.delete().where(EventDelivery.subscriber == name)
        await EventSubscriber.delete().where(EventSubscriber.name == name)
        await Webhook.delete().where(Webhook.id == webhook_id)
        await record(actor, "deleted", "webhook", webhook_id, before=_audit(before))
    return webhook_id


async def rotate_secret(
    actor: Actor, webhook_id: int, grace_hours: float | None = None
) -> tuple[dict[str, Any], str]:
    """A new secret (shown once); the old one keeps signing for ``grace_hours``, so a
    receiver can switch without losing a delivery (both signatures are sent)."""
    grace = config().secret_grace_hours if grace_hours is None else grace_hours
    if not 0 <= grace <= 24 * 30:
        raise ValidationFailed(FieldError("graceHours", "graceHours must be 0..720", "INVALID"))
    secret = new_secret()
    at = now()
    async with unit_of_work():
        before = await get_webhook(actor, webhook_id)
        row = (
            await Webhook.update(
                {
                    Webhook.secret: await encrypt(secret),
                    Webhook.previous_secret: before["secret"] if grace else "",
                    Webhook.previous_secret_until: at + timedelta(hours=grace) if grace else None,
                    Webhook.version: before["version"] + 1,
                    Webhook.updated_at: at,
                }
            )
            .where(Webhook.id == webhook_id)
            .returning(*Webhook.all_columns())
        )[0]
        await record(
            actor,
            "secret_rotated",
            "webhook",
            webhook_id,
            after={"owner": row["owner"], "grace_hours": grace},
        )
    return row, secret


async def signing_secrets(row: dict[str, Any], at: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous during its grace."""
    out = [await decrypt(row["secret"])]
    until = row.get("previous_secret_until")
    if row.get("previous_secret") and until is not None and until > at:
        out.append(await decrypt(row["previous_secret"]))
    return out
