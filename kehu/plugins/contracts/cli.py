"""``kehu contracts ...`` commands (as the system actor, like every Kehu CLI command)."""

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import click

from kehu.core.errors import KehuError
from kehu.core.money import Money
from kehu.core.permissions import system_actor
from kehu.plugins.contracts import services


def _run(obj: Any, fn: Callable[[Any], Awaitable[Any]]) -> Any:
    try:
        return obj.run(fn)
    except KehuError as exc:
        raise click.ClickException(exc.message) from exc


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@click.group("contracts")
def contracts() -> None:
    """Contracts and receivables: dunning, statements, aging."""


@contracts.command("dunning")
@click.option("--as-of", "as_of", help="Run as of this date (YYYY-MM-DD; default today).")
@click.option("--dry-run", is_flag=True, help="Only print what would happen.")
@click.pass_obj
def dunning(obj: Any, as_of: str | None, dry_run: bool) -> None:
    """Run the dunning ladder (pre-due reminder → reminder → collection → legal)."""
    day = _date(as_of)
    actions = _run(obj, lambda kehu: services.run_dunning(day, dry_run=dry_run))
    verb = "Would take" if dry_run else "Took"
    for a in actions:
        click.echo(
            f"{a.step:<18} {a.contract_number:<16} installment {a.installment_id:<6} "
            f"{a.customer_name[:30]:<30} {Money(a.open_minor, a.currency)!s:>18}  "
            f"{a.days_overdue:+d} days"
        )
    click.echo(f"{verb} {len(actions)} dunning step(s)")


@contracts.command("statement")
@click.argument("customer_id", type=int)
@click.option("--from", "date_from", required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", required=True, help="Last day (YYYY-MM-DD).")
@click.option("--currency", default=None, help="Currency (default: the customer's).")
@click.pass_obj
def statement(
    obj: Any, customer_id: int, date_from: str, date_to: str, currency: str | None
) -> None:
    """Print the reconciliation statement (对账单) of CUSTOMER_ID for a period."""
    start, end = _date(date_from), _date(date_to)
    st = _run(
        obj, lambda kehu: services.statement(system_actor(), customer_id, start, end, currency)
    )

    def m(minor: int) -> str:
        return f"{Money(minor, st.currency).amount:>16}"

    click.echo(
        f"Statement for customer {customer_id}, {st.date_from} to {st.date_to} ({st.currency})"
    )
    click.echo(
        f"{'date':<10}  {'kind':<12} {'reference':<30} {'debit':>16} {'credit':>16} {'balance':>16}"
    )
    click.echo(f"{'':<10}  {'opening':<12} {'':<30} {'':>16} {'':>16} {m(st.opening)}")
    for ln in st.lines:
        click.echo(
            f"{ln.on.isoformat():<10}  {ln.kind:<12} {ln.reference[:30]:<30} "
            f"{m(ln.debit)} {m(ln.credit)} {m(ln.balance)}"
        )
    click.echo(f"Opening balance  {m(st.opening)}")
    click.echo(f"+ Invoices       {m(st.invoices)}")
    click.echo(f"- Payments       {m(st.payments)}")
    click.echo(f"- Credits        {m(st.credits)}")
    click.echo(f"= Closing balance{m(st.closing)}")


@contracts.command("aging")
@click.option("--as-of", "as_of", help="As of this date (default today).")
@click.option(
    "--by",
    "group_by",
    type=click.Choice(["customer", "owner", "team", "none"]),
    default="customer",
    show_default=True,
)
@click.pass_obj
def aging(obj: Any, as_of: str | None, group_by: str) -> None:
    """Print the aging report (账龄)."""
    day = _date(as_of)

    async def work(kehu: Any) -> tuple[list[Any], dict[int, str]]:
        rows = await services.aging(system_actor(), day, group_by=group_by)
        return rows, await services.group_names(group_by, [r.group for r in rows])

    rows, names = _run(obj, work)
    if not rows:
        click.echo("No open receivables")
        return
    buckets = list(rows[0].buckets)
    click.echo(
        f"{group_by:<24} {'cur':<4}" + "".join(f"{n:>14}" for n in buckets) + f"{'total':>16}"
    )
    for r in rows:
        label = names.get(r.group, "-" if r.group is None else str(r.group))
        cells = "".join(f"{Money(v, r.currency).amount:>14}" for v in r.buckets.values())
        total = Money(r.total, r.currency).amount
        click.echo(f"{label[:24]:<24} {r.currency:<4}{cells}{total:>16}")
