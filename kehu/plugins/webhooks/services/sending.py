"""Sending webhooks: the payload, the Standard Webhooks signature, the HTTP request, the
delivery log, and the subscriber each endpoint is to the outbox.

Headers follow https://www.standardwebhooks.com: ``webhook-id`` (the event id, the same on
every attempt), ``webhook-timestamp`` (the attempt's Unix time) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of id.timestamp.body>``, one per valid secret, space separated).
Redirects are not followed, reading stops after ``max_response_bytes``, the whole attempt is
bounded by ``timeout_seconds``; a 2xx answer is a success, anything else is retried.
"""

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpcore
from standardwebhooks.webhooks import Webhook as Signer

from kehu.core.context import current
from kehu.core.delivery import Subscriber
from kehu.core.event_types import matches
from kehu.core.events import Event, record, unit_of_work
from kehu.core.graphql.base import encode_id
from kehu.core.pagination import Page, newest_first
from kehu.core.permissions import Actor, system_actor
from kehu.core.services.common import load_json, now
from kehu.core.services.events import receivable
from kehu.core.services.users import actor_for
from kehu.plugins.webhooks.services import safety
from kehu.plugins.webhooks.services.endpoints import (
    config,
    get_webhook,
    signing_secrets,
    subscriber_name,
)
from kehu.plugins.webhooks.tables import Webhook, WebhookAttempt
from kehu.version import __version__

log = logging.getLogger("kehu.webhooks")
EXCERPT = 1024
USER_AGENT = f"Kehu-Webhooks/{__version__}"


@dataclass
class Outcome:
    succeeded: bool
    status: int | None
    latency_ms: int
    excerpt: str
    error: str


class _Clients:
    """One connection pool and one concurrency limit per event loop."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pool: httpcore.AsyncConnectionPool | None = None
        self.slots: asyncio.Semaphore | None = None

    def get(self) -> tuple[httpcore.AsyncConnectionPool, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self.loop is not loop or self.pool is None or self.slots is None:
            settings = config()
            self.pool = httpcore.AsyncConnectionPool(
                network_backend=safety.GuardedBackend(safety.Policy.of(settings)),
                max_connections=settings.max_concurrent,
                keepalive_expiry=30,
            )
            self.slots = asyncio.Semaphore(settings.max_concurrent)
            self.loop = loop
        return self.pool, self.slots


_clients = _Clients()


def sign(secrets: list[str], msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    signatures = " ".join(Signer(s).sign(msg_id, at, body) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }


async def post(url: str, headers: dict[str, str], body: bytes) -> Outcome:
    """One POST: never follows redirects, reads a bounded response, bounded in time."""
    settings = config()
    pool, slots = _clients.get()
    all_headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **headers,
    }
    timeout = settings.timeout_seconds
    extensions = {
        "timeout": {
            "connect": settings.connect_timeout_seconds,
            "read": timeout,
            "write": timeout,
            "pool": timeout,
        }
    }
    started = time.monotonic()

    async def exchange() -> tuple[int, bytes]:
        async with pool.stream(
            "POST",
            url,
            headers=list(all_headers.items()),
            content=body,
            extensions=extensions,
        ) as response:
            received = b""
            async for chunk in response.aiter_stream():
                received += chunk
                if len(received) >= settings.max_response_bytes:
                    break
            return response.status, received[: settings.max_response_bytes]

    async with slots:
        try:
            status, received = await asyncio.wait_for(exchange(), timeout=timeout)
        except TimeoutError:
            return Outcome(False, None, _ms(started), "", f"timed out after {timeout:g} s")
        except httpcore.TimeoutException as exc:
            return Outcome(False, None, _ms(started), "", f"timed out: {exc}")
        except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
            return Outcome(False, None, _ms(started), "", f"{type(exc).__name__}: {exc}")
        except httpcore.UnsupportedProtocol as exc:
            return Outcome(False, None, _ms(started), "", f"unsupported URL: {exc}")
    excerpt = received[:EXCERPT].decode("utf-8", "replace")
    if 200 <= status < 300:
        return Outcome(True, status, _ms(started), excerpt, "")
    if 300 <= status < 400:
        return Outcome(False, status, _ms(started), excerpt, "redirects are not followed")
    return Outcome(False, status, _ms(started), excerpt, f"HTTP {status}")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


async def payload(webhook: dict[str, Any], owner: Actor, event: Event) -> dict[str, Any]:
    """The JSON body: the event and its data, or the result of the endpoint's
    ``payloadQuery`` run as its owner (``$id``: the entity's global id)."""
    kehu = current()
    declared = kehu.event_types.get(event.name)
    node = declared.node if declared else None
    node_id = encode_id(node, event.entity_id) if node and event.entity_id is not None else None
    body: dict[str, Any] = {
        "type": event.name,
        "timestamp": event.occurred_at.isoformat(),
        "id": event.id,
        "seq": event.seq,
        "version": event.version,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "entity_node_id": node_id,
        "actor_id": event.actor_id,
        "data": event.data,
    }
    if webhook.get("payload_query"):
        from kehu.core.graphql.base import KehuContext

        composed = kehu.graphql()
        context = KehuContext(
            kehu=kehu, user=owner, node_types=composed.node_types, loader_fns=composed.loaders
        )
        result = await composed.schema.execute(
            webhook["payload_query"],
            variable_values={"id": node_id, "eventId": event.id},
            context_value=context,
        )
        body["data"] = result.data
        if result.errors:
            body["errors"] = [
                {"message": e.message, "code": (e.extensions or {}).get("code")}
                for e in result.errors
            ]
    return body


async def _log(
    webhook_id: int, event: Event | None, attempt: int, outcome: Outcome, will_retry: bool
) -> None:
    await WebhookAttempt.insert(
        WebhookAttempt(
            webhook=webhook_id,
            event=event.seq if event and event.seq else 0,
            event_id=event.id if event else "",
            event_name=event.name if event else "webhook.ping",
            attempt=attempt,
            succeeded=outcome.succeeded,
            response_status=outcome.status,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt,
            error=outcome.error[:2000],
            will_retry=will_retry,
            created_at=now(),
        )
    )


async def _health(webhook: dict[str, Any], outcome: Outcome) -> None:
    """Track how long the endpoint has been failing; disable it after a day of failures
    and tell its owner (``webhook.disabled``, and an e-mail)."""
    at = now()
    if outcome.succeeded:
        if (
            webhook["failing_since"] is not None
            or webhook["last_success_at"] is None
            or (at - webhook["last_success_at"] > timedelta(minutes=1))
        ):
            await Webhook.update({Webhook.failing_since: None, Webhook.last_success_at: at}).where(
                Webhook.id == webhook["id"]
            )
        return
    since = webhook["failing_since"] or at
    await Webhook.update({Webhook.failing_since: since, Webhook.last_failure_at: at}).where(
        Webhook.id == webhook["id"]
    )
    if at - since >= timedelta(hours=config().disable_after_hours):
        await disable(webhook, f"failing since {since:%Y-%m-%d %H:%M} UTC: {outcome.error}")


async def disable(webhook: dict[str, Any], reason: str) -> None:
    from kehu.core.mail import queue_mail

    async with unit_of_work():
        done = (
            await Webhook.update(
                {
                    Webhook.active: False,
                    Webhook.disabled_reason: reason[:1000],
                    Webhook.version: Webhook.version + 1,
                    Webhook.updated_at: now(),
                }
            )
            .where(Webhook.id == webhook["id"], Webhook.active.eq(True))
            .returning(Webhook.id)
        )
        if not done:
            return
        await record(
            system_actor(),
            "disabled",
            "webhook",
            webhook["id"],
            after={"owner": webhook["owner"], "url": webhook["url"], "reason": reason},
        )
        await queue_mail(
            "webhook_disabled",
            to_user=webhook["owner"],
            context={"url": webhook["url"], "reason": reason, "id": webhook["id"]},
            dedup_key=f"webhook_disabled:{webhook['id']}:{webhook['failing_since']}",
        )
    log.warning("Webhook %s (%s) disabled: %s", webhook["id"], webhook["url"], reason)


class WebhookSubscriber(Subscriber):
    """One endpoint as a subscriber of the outbox."""

    pause_on_failure = True

    def __init__(self, webhook: dict[str, Any], owner: Actor) -> None:
        settings = config()
        self.schedule = settings.retry_schedule_seconds
        super().__init__(
            subscriber_name(webhook["id"]),
            max_attempts=len(self.schedule) + 1,
            retry_base=self.schedule[0],
            retry_max=max(self.schedule),
        )
        self.webhook = webhook
        self.owner = owner
        self.patterns = load_json(webhook["events"])
        self.max_pause = settings.max_pause_seconds

    def retry_delay(self, attempt: int) -> float:
        """The schedule's delay before the next attempt, plus up to 20% jitter."""
        base = self.schedule[min(attempt, len(self.schedule)) - 1]
        return base * random.uniform(1.0, 1.2)

    def pause_delay(self, failures: int) -> float:
        return min(self.retry_delay(failures), self.max_pause)

    def wants(self, event: Event) -> bool:
        return matches(event.name, self.patterns)

    async def select(self, events: list[Event]) -> list[Event]:
        return await receivable(self.owner, [e for e in events if self.wants(e)])

    async def deliver(self, event: Event, attempt: int) -> None:
        at = now()
        body = json.dumps(
            await payload(self.webhook, self.owner, event),
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        ).encode()
        headers = sign(await signing_secrets(self.webhook, at), event.id, at, body)
        outcome = await post(self.webhook["url"], headers, body)
        await _log(
            self.webhook["id"],
            event,
            attempt,
            outcome,
            not outcome.succeeded and attempt < self.max_attempts,
        )
        await _health(self.webhook, outcome)
        if not outcome.succeeded:
            raise DeliveryFailed(outcome.error)


class DeliveryFailed(Exception):
    """The endpoint did not answer 2xx."""


async def subscribers() -> list[WebhookSubscriber]:
    """Every active endpoint whose owner is active (``kehu_event_subscribers``)."""
    rows = await Webhook.select(*Webhook.all_columns(), *Webhook.owner.all_columns()).where(
        Webhook.active.eq(True), Webhook.owner.active.eq(True)
    )
    out = []
    for row in rows:
        owner = {k.removeprefix("owner."): v for k, v in row.items() if k.startswith("owner.")}
        webhook = {k: v for k, v in row.items() if not k.startswith("owner.")}
        out.append(WebhookSubscriber(webhook, actor_for(owner)))
    return out


async def ping(actor: Actor, webhook_id: int) -> dict[str, Any]:
    """Send a signed ``webhook.ping`` now and log it; returns the attempt."""
    webhook = await get_webhook(actor, webhook_id)
    at = now()
    event = Event(
        "webhook.ping",
        "webhook",
        webhook_id,
        actor.user_id,
        {"webhook": webhook_id, "url": webhook["url"]},
    )
    body = json.dumps(
        {"type": event.name, "timestamp": at.isoformat(), "id": event.id, "data": event.data},
        separators=(",", ":"),
    ).encode()
    outcome = await post(
        webhook["url"], sign(await signing_secrets(webhook, at), event.id, at, body), body
    )
    await _log(webhook_id, event, 1, outcome, False)
    return (
        await WebhookAttempt.select()
        .where(WebhookAttempt.webhook == webhook_id)
        .order_by(WebhookAttempt.id, ascending=False)
        .first()
    )


async def list_attempts(
    actor: Actor,
    webhook_id: int,
    *,
    succeeded: bool | None = None,
    first: int = 20,
    after: str | None = None,
) -> tuple[Page, Any]:
    """The delivery log of an endpoint, newest first."""
    await get_webhook(actor, webhook_id)
    conditions = [WebhookAttempt.webhook == webhook_id]
    if succeeded is not None:
        conditions.append(WebhookAttempt.succeeded.eq(succeeded))
    return await newest_first(WebhookAttempt, conditions, first=first, after=after)


async def redeliver(actor: Actor, webhook_id: int, event_ref: str) -> int:
    """Deliver one event to the endpoint again (same ``webhook-id``)."""
    from kehu.core.services.events import find_event, replay

    await get_webhook(actor, webhook_id)
    event = await find_event(system_actor(), event_ref)
    return await replay(
        system_actor(), event_refs=[event.id], subscriber=subscriber_name(webhook_id)
    )
