"""``kehu incentives ...``: statements (rich table), recomputation and payout runs. Commands
act as the system actor, like every Kehu CLI command."""

from collections.abc import Awaitable, Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table as RichTable

from kehu.core.errors import KehuError
from kehu.core.money import Money
from kehu.core.permissions import system_actor
from kehu.core.tables import User


def _run(obj: Any, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    try:
        return obj.run(fn)
    except KehuError as exc:
        raise click.ClickException(exc.message) from exc


@click.group("incentives")
def incentives() -> None:
    """Targets, commissions and incentive statements."""


@incentives.command("statement")
@click.argument("user")
@click.option("--period", required=True, help="Settlement period, e.g. 2026-Q3.")
@click.pass_obj
def statement(obj: Any, user: str, period: str) -> None:
    """Print USER's (username or id) commission statement for a period."""
    from kehu.plugins.incentives.services.statements import statement as build

    async def work(kehu: Any) -> Any:
        where = User.id == int(user) if user.isdigit() else User.username == user
        row = await User.select(User.id).where(where).first()
        if row is None:
            raise click.ClickException(f"No user {user!r}")
        return await build(system_actor(), row["id"], period)

    st = _run(obj, work)
    table = RichTable(
        title=f"Commission statement · {st.user['username']} · {st.period}"
        + (" (locked)" if st.locked else "")
    )
    for col in ("Date", "Kind", "Role", "Base", "Rate", "Amount", "Explanation"):
        table.add_column(col, justify="right" if col in ("Base", "Rate", "Amount") else "left")
    for x in st.lines:
        table.add_row(
            str(x["source_date"]),
            x["kind"],
            x["role"].upper(),
            str(Money(x["base_minor"], x["currency"]).amount),
            x["rate"],
            str(Money(x["amount_minor"], x["currency"]).amount),
            x["explanation"],
        )
    for e in st.events:
        amount = (
            ""
            if e["amount_minor"] is None
            else str(
                Money(
                    -e["amount_minor"] if e["kind"] == "penalty" else e["amount_minor"],
                    e["currency"],
                ).amount
            )
        )
        table.add_row("", e["kind"], "", "", "", amount, f"{e['subtype']}: {e['reason']}")
    console = Console(width=160)
    console.print(table)
    for kind, money in st.totals.items():
        console.print(f"{kind:>12}: {money}")


@incentives.command("recompute")
@click.option("--period", required=True, help="Settlement period, e.g. 2026-Q3.")
@click.pass_obj
def recompute(obj: Any, period: str) -> None:
    """Recompute the commission ledger of a period (idempotent)."""
    from kehu.plugins.incentives.services.ledger import recompute as run

    r = _run(obj, lambda kehu: run(system_actor(), period))
    click.echo(
        f"{r.period}: {r.created} created, {r.updated} updated, {r.deleted} deleted, "
        f"{r.unchanged} unchanged"
    )


@incentives.command("payout")
@click.option("--period", required=True, help="Settlement period, e.g. 2026-Q3.")
@click.pass_obj
def payout(obj: Any, period: str) -> None:
    """Pay out and lock a period."""
    from kehu.plugins.incentives.services.ledger import run_payout

    r = _run(obj, lambda kehu: run_payout(system_actor(), period))
    total = Money(r["total_minor"], r["currency"]) if r["currency"] else "mixed currencies"
    click.echo(f"{r['period']} locked: {r['lines']} lines, total {total}")
