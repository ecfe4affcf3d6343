"""``kehu tickets ...`` commands (acting as the system actor, like every Kehu CLI command)."""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import click

from kehu.core.errors import KehuError
from kehu.core.permissions import system_actor
from kehu.core.tables import User
from kehu.plugins.tickets.services import churn, escalation, metrics


def _run(obj: Any, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    try:
        return obj.run(fn)
    except KehuError as exc:
        raise click.ClickException(exc.message) from exc


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-11-23T10:00:00+08:00")
    return parsed


@click.group("tickets")
def tickets() -> None:
    """Service tickets: SLA checks, churn warning, metrics."""


@tickets.command("sla-check")
@click.option("--dry-run", is_flag=True, help="Only print what would happen.")
@click.option("--now", "now", default=None, help="Evaluate at this ISO time (testing).")
@click.pass_obj
def sla_check(obj: Any, dry_run: bool, now: str | None) -> None:
    """Send SLA reminders and escalate breaches (each step once)."""
    when = _when(now)

    async def work(kehu: Any) -> tuple[list[escalation.Step], dict[int, str]]:
        steps = await escalation.sla_check(when, dry_run=dry_run)
        ids = sorted({u for s in steps for u in s.notify})
        rows = await User.select(User.id, User.username).where(User.id.is_in(ids)) if ids else []
        return steps, {r["id"]: r["username"] for r in rows}

    steps, names = _run(obj, work)
    prefix = "would do" if dry_run else "done"
    for step in steps:
        click.echo(f"{prefix}: {step.describe(names)}")
    click.echo(f"{len(steps)} step(s) {'planned' if dry_run else 'done'}")


@tickets.command("churn-check")
@click.pass_obj
def churn_check(obj: Any) -> None:
    """Raise churn alerts for customers over the threshold."""
    result = _run(obj, lambda kehu: churn.churn_check())
    click.echo(
        f"raised {len(result.raised)}, cleared {len(result.cleared)}, "
        f"moved to declining {len(result.declined)}"
    )


@tickets.command("metrics")
@click.option("--since", required=True, help="ISO date-time with zone.")
@click.option("--until", default=None)
@click.pass_obj
def show_metrics(obj: Any, since: str, until: str | None) -> None:
    """Service metrics of the tickets created in the period."""
    start, end = _when(since), _when(until)
    m = _run(obj, lambda kehu: metrics.ticket_metrics(system_actor(), start, end))
    for name, value in vars(m).items():
        click.echo(f"{name}: {value}")
