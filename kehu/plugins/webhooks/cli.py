"""``kehu webhooks ...``: add, list, deliveries, replay, ping, rotate-secret, enable, disable,
remove (as the system actor, like every Kehu command)."""

from typing import Any

import click
from rich.table import Table

from kehu.core.console import console
from kehu.core.console import format_time as _dt
from kehu.core.permissions import system_actor
from kehu.core.services.common import load_json


@click.group("webhooks")
def webhooks() -> None:
    """Signed webhooks (Standard Webhooks) for integrations."""


@webhooks.command("add")
@click.argument("url")
@click.option("--events", required=True, help="Comma-separated names or globs: 'contract.*'.")
@click.option("--description", default="")
@click.option("--owner", default=None, help="User who owns it (default: the first admin).")
@click.option(
    "--payload-query",
    "payload_query",
    type=click.File("r"),
    default=None,
    help="File with a GraphQL query shaping the payload ($id, $eventId).",
)
@click.pass_obj
def add(
    obj: Any, url: str, events: str, description: str, owner: str | None, payload_query: Any
) -> None:
    """Create an endpoint and print its secret once."""
    from kehu.plugins.webhooks.services import endpoints

    data = {
        "url": url,
        "events": [e.strip() for e in events.split(",") if e.strip()],
        "description": description,
        "payload_query": payload_query.read() if payload_query else None,
    }
    row, secret = obj.run(lambda kehu: endpoints.create_webhook(system_actor(), data, owner=owner))
    console.print(f"Created webhook {row['id']} → {row['url']}")
    console.print("Signing secret (shown once, keep it):")
    click.echo(secret)


@webhooks.command("list")
@click.pass_obj
def list_(obj: Any) -> None:
    """Endpoints with their state."""
    from kehu.plugins.webhooks.services import endpoints

    page = obj.run(lambda kehu: endpoints.list_webhooks(system_actor(), first=100))
    table = Table("id", "url", "events", "owner", "active", "failing since", "description")
    for r in page.rows:
        table.add_row(
            str(r["id"]),
            r["url"],
            ", ".join(load_json(r["events"])),
            str(r["owner"]),
            "yes" if r["active"] else f"no: {r['disabled_reason'][:40]}",
            _dt(r["failing_since"]),
            r["description"],
        )
    console.print(table)


@webhooks.command("deliveries")
@click.argument("webhook_id", type=int)
@click.option("--failed", is_flag=True, help="Only failed attempts.")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.pass_obj
def deliveries(obj: Any, webhook_id: int, failed: bool, limit: int) -> None:
    """The delivery log: every attempt, newest first."""
    from kehu.plugins.webhooks.services import sending

    page, _ = obj.run(
        lambda kehu: sending.list_attempts(
            system_actor(), webhook_id, succeeded=False if failed else None, first=limit
        )
    )
    table = Table("at", "event", "webhook-id", "try", "ok", "status", "ms", "error / answer")
    for r in page.rows:
        table.add_row(
            _dt(r["created_at"]),
            r["event_name"],
            r["event_id"],
            str(r["attempt"]),
            "yes" if r["succeeded"] else "no",
            str(r["response_status"] or "-"),
            str(r["latency_ms"]),
            (r["error"] or r["response_excerpt"])[:60],
        )
    console.print(table)


@webhooks.command("replay")
@click.argument("webhook_id", type=int)
@click.option("--event", "event_ids", multiple=True, help="Event id or position (repeatable).")
@click.option("--dead", is_flag=True, help="Its dead letters.")
@click.option("--since", default=None, help="Every event since this ISO date-time.")
@click.pass_obj
def replay(
    obj: Any, webhook_id: int, event_ids: tuple[str, ...], dead: bool, since: str | None
) -> None:
    """Deliver events to the endpoint again (same webhook-id)."""
    from kehu.core.commands import _since
    from kehu.core.services import events
    from kehu.plugins.webhooks.services import endpoints

    async def work(kehu: Any) -> int:
        await endpoints.get_webhook(system_actor(), webhook_id)
        count = await events.replay(
            system_actor(),
            event_refs=list(event_ids),
            dead=dead,
            since=_since(since),
            subscriber=endpoints.subscriber_name(webhook_id),
        )
        await kehu.events.drain()
        return count

    console.print(f"Replayed {obj.run(work)} event(s) to webhook {webhook_id}")


@webhooks.command("ping")
@click.argument("webhook_id", type=int)
@click.pass_obj
def ping(obj: Any, webhook_id: int) -> None:
    """Send a signed webhook.ping now."""
    from kehu.core.console import fail
    from kehu.plugins.webhooks.services import sending

    row = obj.run(lambda kehu: sending.ping(system_actor(), webhook_id))
    if not row["succeeded"]:
        fail(f"ping failed: {row['error']} ({row['latency_ms']} ms)")
    console.print(f"pong: HTTP {row['response_status']} in {row['latency_ms']} ms")


@webhooks.command("rotate-secret")
@click.argument("webhook_id", type=int)
@click.option("--grace-hours", type=float, default=None, help="Old secret signs on (24).")
@click.pass_obj
def rotate(obj: Any, webhook_id: int, grace_hours: float | None) -> None:
    """A new signing secret (printed once); the old one signs on for the grace period."""
    from kehu.plugins.webhooks.services import endpoints

    _, secret = obj.run(
        lambda kehu: endpoints.rotate_secret(system_actor(), webhook_id, grace_hours)
    )
    console.print("New signing secret (shown once):")
    click.echo(secret)


def _set_active(obj: Any, webhook_id: int, active: bool) -> None:
    from kehu.plugins.webhooks.services import endpoints

    obj.run(
        lambda kehu: endpoints.update_webhook(system_actor(), webhook_id, None, {"active": active})
    )
    console.print(f"Webhook {webhook_id} {'enabled' if active else 'disabled'}")


@webhooks.command("enable")
@click.argument("webhook_id", type=int)
@click.pass_obj
def enable(obj: Any, webhook_id: int) -> None:
    """Re-enable an endpoint (it resumes where it stopped)."""
    _set_active(obj, webhook_id, True)


@webhooks.command("disable")
@click.argument("webhook_id", type=int)
@click.pass_obj
def disable(obj: Any, webhook_id: int) -> None:
    """Stop delivering to an endpoint (events wait until it is enabled)."""
    _set_active(obj, webhook_id, False)


@webhooks.command("remove")
@click.argument("webhook_id", type=int)
@click.pass_obj
def remove(obj: Any, webhook_id: int) -> None:
    """Delete an endpoint and its delivery log."""
    from kehu.plugins.webhooks.services import endpoints

    obj.run(lambda kehu: endpoints.delete_webhook(system_actor(), webhook_id))
    console.print(f"Deleted webhook {webhook_id}")
