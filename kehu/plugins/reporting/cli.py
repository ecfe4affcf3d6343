"""``kehu report``: list metrics, print one as a table, CSV or JSON, or draw it (SVG/PNG)."""

from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from kehu.core.permissions import system_actor

console = Console()


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


@click.command()
@click.argument("name", required=False)
@click.option(
    "-d",
    "--dimension",
    "dimensions",
    multiple=True,
    help="Group by (repeatable): period, owner, team, region, tier...",
)
@click.option(
    "-f",
    "--filter",
    "filters",
    multiple=True,
    metavar="NAME=VALUE",
    help="Narrow the rows (repeatable); owner/team by name or id.",
)
@click.option("--from", "start", help="Start (ISO date or date-time, UTC).")
@click.option("--to", "end", help="End, exclusive.")
@click.option(
    "-g",
    "--granularity",
    type=click.Choice(["day", "month", "quarter", "year"]),
    default="month",
    show_default=True,
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw the result as a chart: SVG, or PNG when the file ends in .png.",
)
@click.option(
    "--excel", is_flag=True, help="CSV with a UTF-8 byte order mark (for Excel in any locale)."
)
@click.option("--as", "as_user", metavar="USER", help="Compute with this user's visibility.")
@click.pass_obj
def report(
    state: Any,
    name: str | None,
    dimensions: tuple[str, ...],
    filters: tuple[str, ...],
    start: str | None,
    end: str | None,
    granularity: str,
    fmt: str,
    chart: Path | None,
    excel: bool,
    as_user: str | None,
) -> None:
    """Without NAME: list the metrics. With NAME: compute it."""
    from kehu.core.services import users
    from kehu.plugins.reporting import services
    from kehu.plugins.reporting.services import charts

    parsed: dict[str, str] = {}
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--filter expects NAME=VALUE, got {item!r}")
        parsed[key] = value

    async def work(kehu: Any) -> Any:
        actor = (
            system_actor()
            if as_user is None
            else users.actor_for(await users.user_by_name(as_user))
        )
        if name is None:
            return services.all_metrics()
        return await services.run_metric(
            actor,
            name,
            dimensions=dimensions,
            filters=parsed,
            start=_when(start),
            end=_when(end),
            granularity=granularity,
        )

    result = state.run(work)
    if name is None:
        table = Table("metric", "unit", "dimensions", "plugin", "title")
        for metric in result.values():
            table.add_row(
                metric.name, metric.unit, ", ".join(metric.dimensions), metric.plugin, metric.title
            )
        console.print(table)
        return
    metric, rows = result
    if chart:
        svg = charts.render(metric, rows, dimensions)
        if chart.suffix.lower() == ".png":
            chart.write_bytes(charts.to_png(svg))
        else:
            chart.write_text(svg, encoding="utf-8")
    if fmt != "table":
        click.echo(services.export(metric, rows, fmt, bom=excel), nl=False)
        return
    records = services.to_records(metric, rows)
    columns = list(dict.fromkeys(k for r in records for k in r)) or [metric.unit]
    table = Table(*columns, title=metric.title)
    for record_ in records:
        table.add_row(*(record_.get(c) or "" for c in columns))
    console.print(table)
