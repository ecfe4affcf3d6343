"""``kehu loyalty ...`` commands. The ``kehu`` group passes an object with ``kehu`` (the
runtime) and ``run(fn)``, which opens the database, awaits ``fn(kehu)`` and closes it again.
Commands act as the system actor, like every Kehu CLI command."""

from collections.abc import Awaitable, Callable
from typing import Any

import click

from kehu.sdk import KehuError, system_actor
from kehu_loyalty import services


def _run(obj: Any, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    try:
        return obj.run(fn)
    except KehuError as exc:
        raise click.ClickException(exc.message) from exc


@click.group("loyalty")
def loyalty() -> None:
    """Loyalty points of customers."""


@loyalty.command("balance")
@click.argument("customer_id", type=int)
@click.option("--history", "history", type=int, default=0, help="Also show the latest N entries.")
@click.pass_obj
def balance(obj: Any, customer_id: int, history: int) -> None:
    """Show CUSTOMER_ID's points balance."""

    async def work(kehu: Any) -> tuple[int, list[dict[str, Any]]]:
        actor = system_actor()
        points = await services.balance(actor, customer_id)
        entries = await services.ledger(actor, customer_id, history) if history > 0 else []
        return points, entries

    points, entries = _run(obj, work)
    click.echo(f"Customer {customer_id}: {points} points")
    for e in entries:
        click.echo(f"  {e['created_at']:%Y-%m-%d %H:%M}  {e['points']:+6d}  {e['reason']}")


def _change(
    obj: Any, change: Callable[..., Awaitable[Any]], customer_id: int, points: int, reason: str
) -> int:
    async def work(kehu: Any) -> Any:
        return await change(system_actor(), customer_id, points, reason, source="cli")

    return _run(obj, work).balance


@loyalty.command("award")
@click.argument("customer_id", type=int)
@click.argument("points", type=int)
@click.option("--reason", required=True, help="Why (kept in the ledger and the audit log).")
@click.pass_obj
def award(obj: Any, customer_id: int, points: int, reason: str) -> None:
    """Give CUSTOMER_ID POINTS loyalty points."""
    new_balance = _change(obj, services.award_points, customer_id, points, reason)
    click.echo(f"Awarded {points} points: customer {customer_id} now has {new_balance}")


@loyalty.command("redeem")
@click.argument("customer_id", type=int)
@click.argument("points", type=int)
@click.option("--reason", required=True, help="What the points were spent on.")
@click.pass_obj
def redeem(obj: Any, customer_id: int, points: int, reason: str) -> None:
    """Spend POINTS of CUSTOMER_ID's loyalty points."""
    new_balance = _change(obj, services.redeem_points, customer_id, points, reason)
    click.echo(f"Redeemed {points} points: customer {customer_id} now has {new_balance}")
