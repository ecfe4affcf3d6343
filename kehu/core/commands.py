"""Core's own sub-commands (added through core's ``kehu_cli_commands``): ``kehu events``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from kehu.core.console import CliState, console, pass_state
from kehu.core.console import format_time as _dt
from kehu.core.permissions import system_actor

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    from kehu.core.errors import ValidationFailed
    from kehu.core.services.common import as_datetime

    errors: list = []
    parsed = as_datetime(value, "--since", errors)
    if errors:
        raise ValidationFailed(errors)
    return parsed


@click.group()
def events() -> None:
    """The event outbox: events, failed deliveries, replay, the catalogue."""


@events.command("list")
@click.option("--name", "names", multiple=True, help="Event name or glob, e.g. 'contract.*'.")
@click.option("--entity", default=None, help="Entity, e.g. contract.")
@click.option("--entity-id", type=int, default=None)
@click.option("--since", default=None, help="ISO date-time.")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with data.")
@pass_state
def events_list(
    state: CliState,
    names: tuple[str, ...],
    entity: str | None,
    entity_id: int | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The newest events of the outbox."""
    from kehu.core.delivery import event_of
    from kehu.core.services import events as service

    async def work(kehu: Kehu) -> list[dict[str, Any]]:
        f = service.EventFilter(list(names) or None, entity, entity_id, None, _since(since))
        page, _ = await service.list_events(system_actor(), f, first=limit)
        return page.rows

    rows = state.run(work)
    if as_json:
        for row in rows:
            e = event_of(row)
            click.echo(
                json.dumps(
                    {
                        "seq": e.seq,
                        "id": e.id,
                        "name": e.name,
                        "entity": e.entity,
                        "entity_id": e.entity_id,
                        "actor": e.actor_id,
                        "occurred_at": e.occurred_at.isoformat(),
                        "version": e.version,
                        "data": e.data,
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = Table("seq", "occurred", "name", "entity", "actor", "event id")
    for r in rows:
        table.add_row(
            str(r["id"]),
            _dt(r["occurred_at"]),
            r["name"],
            f"{r['entity']}:{r['entity_id']}",
            str(r["actor"] or "system"),
            r["event_id"],
        )
    console.print(table)


@events.command("failed")
@click.option("--subscriber", default=None, help="e.g. plugin:incentives or webhook:3.")
@click.option("--dead", is_flag=True, help="Only dead letters (no more retries).")
@click.option("--limit", type=click.IntRange(1, 100), default=50, show_default=True)
@pass_state
def events_failed(state: CliState, subscriber: str | None, dead: bool, limit: int) -> None:
    """Deliveries waiting for a retry, and dead letters."""
    from kehu.core.services import events as service

    async def work(kehu: Kehu) -> tuple[list[dict[str, Any]], dict[int, Any]]:
        page, _ = await service.list_deliveries(
            system_actor(),
            subscriber=subscriber,
            status="dead" if dead else None,
            failed_only=True,
            first=limit,
        )
        return page.rows, await kehu.events.events_by_seq([r["event"] for r in page.rows])

    rows, found = state.run(work)
    table = Table("subscriber", "seq", "event", "status", "attempts", "next attempt", "error")
    for r in rows:
        e = found.get(r["event"])
        table.add_row(
            r["subscriber"],
            str(r["event"]),
            e.name if e else "(pruned)",
            r["status"],
            str(r["attempts"]),
            _dt(r["next_attempt_at"]) if r["status"] == "pending" else "-",
            (r["last_error"] or "")[:120],
        )
    console.print(table)
    if not rows:
        console.print("No failed deliveries.")


@events.command("replay")
@click.argument("event_ids", nargs=-1)
@click.option("--subscriber", default=None, help="Only to this subscriber.")
@click.option("--dead", is_flag=True, help="Every dead letter (of --subscriber).")
@click.option("--since", default=None, help="Every event since this ISO date-time.")
@pass_state
def events_replay(
    state: CliState,
    event_ids: tuple[str, ...],
    subscriber: str | None,
    dead: bool,
    since: str | None,
) -> None:
    """Deliver events again (by id or seq, --dead, or --since) to their subscribers."""
    from kehu.core.services import events as service

    async def work(kehu: Kehu) -> int:
        count = await service.replay(
            system_actor(),
            event_refs=list(event_ids),
            subscriber=subscriber,
            dead=dead,
            since=_since(since),
        )
        await kehu.events.drain()
        return count

    count = state.run(work)
    console.print(f"Replayed {count} deliver{'y' if count == 1 else 'ies'}")


@events.command("status")
@pass_state
def events_status(state: CliState) -> None:
    """Subscribers: position, lag, lease holder, pending and dead deliveries."""
    from kehu.core.services import events as service

    rows = state.run(lambda kehu: service.subscriber_status(system_actor()))
    table = Table(
        "subscriber",
        "position",
        "lag",
        "pending",
        "dead",
        "delivering",
        "paused until",
        "last error",
    )
    for r in rows:
        table.add_row(
            r["name"],
            str(r["position"]),
            str(r["lag"]),
            str(r["pending"]),
            str(r["dead"]),
            r["locked_by"] or "-",
            _dt(r.get("paused_until")),
            (r.get("last_error") or "")[:80],
        )
    console.print(table)


@events.command("deliver")
@pass_state
def events_deliver(state: CliState) -> None:
    """Deliver everything that is due now, then exit (``kehu worker`` does this continuously)."""

    async def work(kehu: Kehu) -> Any:
        await kehu.events.drain()
        from kehu.core.services import events as service

        return await service.subscriber_status(system_actor())

    rows = state.run(work)
    lag = sum(r["lag"] for r in rows)
    pending = sum(r["pending"] for r in rows)
    console.print(f"Delivered; {lag} event(s) not yet read, {pending} waiting for a retry")


@events.command("catalogue")
@pass_state
def events_catalogue(state: CliState) -> None:
    """Print the catalogue of event names and data fields (Markdown, as in docs/events.md)."""
    click.echo(state.kehu.event_types.markdown())


COMMANDS = [events]


@click.group()
def mail() -> None:
    """The mail outbox: queued, sent and dead notifications."""


@mail.command("list")
@click.option("--status", type=click.Choice(["queued", "sent", "dead"]), default=None)
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@pass_state
def mail_list(state: CliState, status: str | None, limit: int) -> None:
    """The newest messages (without SMTP configured they wait here as queued)."""
    from kehu.core import mail as service

    async def work(kehu: Kehu) -> list[dict[str, Any]]:
        page, _ = await service.list_mail(system_actor(), status=status, first=limit)
        return page.rows

    rows = state.run(work)
    table = Table("id", "created", "kind", "to", "subject", "status", "attempts", "error")
    for r in rows:
        table.add_row(
            str(r["id"]),
            _dt(r["created_at"]),
            r["kind"],
            r["to_address"],
            r["subject"][:60],
            r["status"],
            str(r["attempts"]),
            (r["last_error"] or "")[:60],
        )
    console.print(table)
    if not state.kehu.settings.smtp_url:
        console.print("smtp_url is not set: queued messages wait until it is.")


@mail.command("send")
@pass_state
def mail_send(state: CliState) -> None:
    """Send the queued messages that are due now."""
    from kehu.core import mail as service
    from kehu.core.console import fail

    if not state.kehu.settings.smtp_url:
        fail("smtp_url is not set (kehu.toml or KEHU_SMTP_URL)")

    async def work(kehu: Kehu) -> int:
        total = 0
        while sent := await service.send_due():
            total += sent
        return total

    console.print(f"Sent {state.run(work)} message(s)")


@mail.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Every dead message.")
@pass_state
def mail_retry(state: CliState, ids: tuple[int, ...], dead: bool) -> None:
    """Queue dead (or the given) messages again."""
    from kehu.core import mail as service

    count = state.run(lambda kehu: service.retry_mail(system_actor(), list(ids), dead=dead))
    console.print(f"Queued {count} message(s) again")


COMMANDS.append(mail)
