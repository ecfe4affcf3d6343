"""Pipeline sales metrics for the reporting plugin's registry (used only when reporting is
enabled): funnel, win rate, deal cycle, velocity, weighted forecast and forecast vs actual,
next to the revenue metrics of ``revenue``.

Each runs one aggregate query per source in SQL (several named aggregates per group) with the
pipeline's visibility (``opportunity_scope``; forecast snapshot lines and the actuals they are
compared with: the owner/team rule, the only one snapshot lines support). Money is summed in
minor units per currency and rounded once. A row whose value would divide by zero is left out.
"""

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from piccolo.querystring import QueryString

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.money import Money
from kehu.core.permissions import owner_team_scope
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t
from kehu.plugins.reporting.hookspecs import (
    Metric,
    MetricQuery,
    MetricRow,
    Source,
    first_day,
    grouped,
    id_of,
    utc_midnight,
)

OPP = services.OPP
SNAP, LINE = "pipeline_forecast_snapshot", "pipeline_forecast_snapshot_line"
JOINS = {  # joined only when a dimension or filter of the query uses the table
    "core_customer": f"JOIN core_customer ON core_customer.id = {OPP}.customer",
    "pipeline_pipeline": f"JOIN pipeline_pipeline ON pipeline_pipeline.id = {OPP}.pipeline",
    "pipeline_stage": f"JOIN pipeline_stage ON pipeline_stage.id = {OPP}.stage",
}
OWNER_TEAM = {"owner": f"{OPP}.owner", "team": f"{OPP}.team"}
OWNER_DIMS = {**OWNER_TEAM, "pipeline": "pipeline_pipeline.name"}
CLOSED_DIMS = {
    **OWNER_DIMS,
    "region": "core_customer.region",
    "industry": "core_customer.industry",
    "tier": "core_customer.tier",
}
FORECAST_DIMS = {
    "forecast_category": f"{OPP}.forecast_category",
    "stage": "pipeline_stage.name",
    **CLOSED_DIMS,
}
LABELS = ("owner", "team")


def _status(*statuses: str) -> QueryString:
    return QueryString(f"{OPP}.status IN ({', '.join(repr(s) for s in statuses)})")


def _sum_if(condition: str, value: str = "1") -> str:
    """``SUM(value)`` over the rows meeting ``condition`` (a count by default)."""
    return f"SUM(CASE WHEN {condition} THEN {value} ELSE 0 END)"


def _scoped(where: list[QueryString], scope: Any) -> list[QueryString]:
    """``where`` and the visibility ``scope`` (a Piccolo where-clause; ``None`` = all)."""
    return where if scope is None else [*where, scope.querystring]


# -- grouped aggregates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One group of an aggregate query: dimension labels, currency, integer aggregates."""

    dimensions: dict[str, str]
    currency: str | None
    values: dict[str, int]


async def aggregate(
    source: Source,
    query: MetricQuery,
    values: dict[str, str],
    where: list[QueryString],
    *,
    currency: str | None = None,
    dates: bool = False,
) -> list[Group]:
    """Reporting's ``grouped`` with several integer aggregates (``values``), per currency when
    given; ``dates``: the time column is a DATE."""
    source = replace(source, dated=dates, currency=currency)
    rows = await grouped(source, query, "COUNT(*)", None, where, measures=values)
    return [
        Group(r.dimensions, r.currency, {k: int(v or 0) for k, v in r.measures.items()})
        for r in rows
    ]


async def _pipeline_id(filters: dict[str, str]) -> int:
    """The ``pipeline`` filter (id or name), else the default pipeline."""
    value = filters.get("pipeline")
    if value is None:
        row = await services.default_pipeline()
    elif value.isdigit():
        row = await t.Pipeline.select(t.Pipeline.id).where(t.Pipeline.id == int(value)).first()
    else:
        row = await t.Pipeline.select(t.Pipeline.id).where(t.Pipeline.name == value).first()
    if row is None:
        raise ValidationFailed(FieldError("filters", f"Unknown pipeline {value!r}", "NOT_FOUND"))
    return row["id"]


async def _opportunities(
    q: MetricQuery,
    dims: dict[str, str],
    time_column: str | None,
    values: dict[str, str],
    where: list[QueryString],
    *,
    per_currency: bool = False,
    dates: bool = False,
) -> list[Group]:
    """``aggregate`` over the visible opportunities (``pipeline`` filter: id or name), joining
    customers, pipelines or stages only when the query's dimensions or filters need them."""
    filters = dict(q.filters)
    conditions = list(where)
    if "pipeline" in filters:
        conditions.append(QueryString(f"{OPP}.pipeline = {{}}", await _pipeline_id(filters)))
        del filters["pipeline"]
    conditions = _scoped(conditions, services.opportunity_scope(q.actor))
    used = " ".join(dims[d] for d in (*q.dimensions, *filters) if d in dims)
    table = " ".join([OPP, *(join for name, join in JOINS.items() if f"{name}." in used)])
    return await aggregate(
        Source(table, dims, time_column, labels=LABELS),
        replace(q, filters=filters),
        values,
        conditions,
        currency=f"{OPP}.currency" if per_currency else None,
        dates=dates,
    )


# -- the metrics -----------------------------------------------------------------------------


async def funnel(q: MetricQuery) -> list[MetricRow]:
    """Deals created in the window, per open/won stage: reached, conversion from the previous
    stage (percent), open in the stage now."""
    ids = {}
    for name in ("owner", "team"):
        value = q.filters.get(name)
        if value is not None:
            ids[name] = int(value if value.isdigit() else await id_of(name, value))
    stages = await services.funnel(
        q.actor,
        await _pipeline_id(q.filters),
        owner_id=ids.get("owner"),
        team_id=ids.get("team"),
        created_from=q.start,
        created_to=q.end,
    )
    rows, previous = [], None
    for s in stages:
        conversion = None if previous is None else services.percent(s.reached, previous)
        rows.append(
            MetricRow(
                {"stage": s.name},
                Decimal(s.reached),
                measures={"conversion": conversion, "current": Decimal(s.current)},
            )
        )
        previous = s.reached
    only = q.filters.get("stage")
    return [r for r in rows if only is None or r.dimensions["stage"] == only]


async def win_rate(q: MetricQuery) -> list[MetricRow]:
    """won ÷ (won + lost) × 100 of the deals closed in the window."""
    groups = await _opportunities(
        q,
        CLOSED_DIMS,
        f"{OPP}.closed_at",
        {"won": _sum_if(f"{OPP}.status = 'won'"), "lost": _sum_if(f"{OPP}.status = 'lost'")},
        [_status("won", "lost")],
    )
    rows = []
    for g in groups:
        won, lost = g.values["won"], g.values["lost"]
        if won + lost:
            rows.append(
                MetricRow(
                    g.dimensions,
                    services.percent(won, won + lost),
                    measures={"won": Decimal(won), "lost": Decimal(lost)},
                )
            )
    return rows


async def deal_cycle(q: MetricQuery) -> list[MetricRow]:
    """Mean days from creation to winning of the deals won in the window."""
    groups = await _opportunities(
        q,
        CLOSED_DIMS,
        f"{OPP}.closed_at",
        {"deals": "COUNT(*)", "seconds": f"SUM({OPP}.cycle_seconds)"},
        [_status("won"), QueryString(f"{OPP}.cycle_seconds IS NOT NULL")],
    )
    return [
        MetricRow(
            g.dimensions,
            services.days(g.values["seconds"], g.values["deals"]),
            measures={"deals": Decimal(g.values["deals"])},
        )
        for g in groups
        if g.values["deals"]
    ]


async def velocity(q: MetricQuery) -> list[MetricRow]:
    """Open deals now × average won amount × win rate ÷ average cycle days, the last three
    over the deals closed in the window; per currency."""
    bounds = [(b, op) for b, op in ((q.start, ">="), (q.end, "<")) if b is not None]
    closed = " AND ".join(
        [f"{OPP}.status IN ('won', 'lost')", *(f"{OPP}.closed_at {op} {{}}" for _, op in bounds)]
    )
    window = QueryString(f"({OPP}.status = 'open' OR ({closed}))", *(b for b, _ in bounds))
    won = f"{OPP}.status = 'won'"
    groups = await _opportunities(
        replace(q, start=None, end=None),
        OWNER_DIMS,
        None,
        {
            "opened": _sum_if(f"{OPP}.status = 'open'"),
            "won": _sum_if(won),
            "lost": _sum_if(f"{OPP}.status = 'lost'"),
            "won_minor": _sum_if(won, f"{OPP}.amount_minor"),
            "won_seconds": _sum_if(
                f"{won} AND {OPP}.cycle_seconds IS NOT NULL", f"{OPP}.cycle_seconds"
            ),
            "cycled": _sum_if(f"{won} AND {OPP}.cycle_seconds IS NOT NULL"),
        },
        [window],
        per_currency=True,
    )
    rows = []
    for g in groups:
        v = g.values
        speed = services.velocity(
            g.currency or "",
            v["opened"],
            v["won"],
            v["lost"],
            v["won_minor"],
            v["won_seconds"],
            v["cycled"],
        )
        if speed.per_day is None:
            continue
        rows.append(
            MetricRow(
                g.dimensions,
                speed.per_day.amount,
                g.currency,
                {
                    "open_deals": Decimal(v["opened"]),
                    "average_won_amount": _amount(speed.average_won_amount),
                    "win_rate": services.percent(v["won"], v["won"] + v["lost"]),
                    "cycle_days": speed.cycle_days,
                },
            )
        )
    return rows


def _amount(money: Money | None) -> Decimal | None:
    return None if money is None else money.amount


async def weighted_forecast(q: MetricQuery) -> list[MetricRow]:
    """Σ amount × probability of the open deals expected to close in the window."""
    groups = await _opportunities(
        q,
        FORECAST_DIMS,
        f"{OPP}.expected_close_date",
        {
            "basis": f"SUM({OPP}.weighted_basis)",
            "total": f"SUM({OPP}.amount_minor)",
            "deals": "COUNT(*)",
        },
        [_status("open")],
        per_currency=True,
        dates=True,
    )
    return [
        MetricRow(
            g.dimensions,
            services.weighted(g.values["basis"], g.currency).amount,
            g.currency,
            {
                "total": Money(g.values["total"], g.currency).amount,
                "deals": Decimal(g.values["deals"]),
            },
        )
        for g in groups
    ]


async def forecast_vs_actual(q: MetricQuery) -> list[MetricRow]:
    """Per forecast period starting in the window (one snapshot each, see
    ``services.period_snapshots``): the snapshot's weighted forecast and commit next to what
    was won in the period; value = actual ÷ weighted forecast × 100."""
    snapshots = await services.period_snapshots(first_day(q.start), first_day(q.end))
    if not snapshots:
        return []
    ids = ", ".join(str(int(s["id"])) for s in snapshots)
    everything = replace(q, start=None, end=None)  # the snapshots carry the window
    chosen = QueryString(f"{SNAP}.id IN ({ids})")
    line_scope = owner_team_scope(
        q.actor, t.ForecastSnapshotLine.owner, t.ForecastSnapshotLine.team
    )
    forecast = await aggregate(
        Source(
            f"{LINE} JOIN {SNAP} ON {SNAP}.id = {LINE}.snapshot",
            {"owner": f"{LINE}.owner", "team": f"{LINE}.team"},
            f"{SNAP}.period_start",
            LABELS,
        ),
        everything,
        {
            "basis": f"SUM({LINE}.weighted_basis)",
            "committed": _sum_if(
                f"{LINE}.forecast_category IN ('commit', 'closed')", f"{LINE}.total_minor"
            ),
        },
        _scoped([chosen], line_scope),
        currency=f"{LINE}.currency",
        dates=True,
    )
    opp_scope = owner_team_scope(q.actor, t.Opportunity.owner, t.Opportunity.team)
    within = (
        f"{OPP}.closed_at >= {utc_midnight(f'{SNAP}.period_start')} AND "
        f"{OPP}.closed_at < {utc_midnight(f'{SNAP}.period_end')}"
    )
    actual = await aggregate(
        Source(f"{OPP} JOIN {SNAP} ON {within}", OWNER_TEAM, f"{SNAP}.period_start", LABELS),
        everything,
        {"won": f"SUM({OPP}.amount_minor)"},
        _scoped([chosen, _status("won")], opp_scope),
        currency=f"{OPP}.currency",
        dates=True,
    )
    return _forecast_rows(forecast, actual)


def _forecast_rows(forecast: list[Group], actual: list[Group]) -> list[MetricRow]:
    """Forecast groups with the actual of the same dimensions and currency; a group with
    nothing forecast has no accuracy and is left out."""
    won = {(tuple(g.dimensions.items()), g.currency): g.values["won"] for g in actual}
    rows = []
    for g in forecast:
        basis, currency = g.values["basis"], g.currency or ""
        if not basis:
            continue
        predicted = services.weighted(basis, currency)
        got = Money(won.get((tuple(g.dimensions.items()), currency), 0), currency)
        rows.append(
            MetricRow(
                g.dimensions,
                services.percent(got.minor * 100, basis),
                currency,
                {
                    "forecast": predicted.amount,
                    "commit": Money(g.values["committed"], currency).amount,
                    "actual": got.amount,
                    "variance": (got - predicted).amount,
                },
            )
        )
    return rows


def sales_metrics() -> list[Metric]:
    closed = (*CLOSED_DIMS, "period")
    return [
        Metric(
            "pipeline.funnel",
            "Sales funnel",
            "Deals created in the period (all when no period is given) that ever reached "
            "each open or won stage of a pipeline (default pipeline unless filtered); "
            "conversion = reached ÷ reached at the previous stage, current = still open "
            "in the stage.",
            "COUNT(DISTINCT deals entering the stage)",
            "count",
            ("stage",),
            funnel,
            filters=("pipeline", "owner", "team"),
            chart="funnel",
        ),
        Metric(
            "pipeline.win_rate",
            "Win rate",
            "Won ÷ (won + lost) of the deals closed in the period.",
            "won / (won + lost) × 100",
            "percent",
            closed,
            win_rate,
        ),
        Metric(
            "pipeline.deal_cycle",
            "Average deal cycle",
            "Mean days from creation to winning of the deals won in the period.",
            "AVG(closed_at − created_at) over won deals, in days",
            "days",
            closed,
            deal_cycle,
            chart="line",
        ),
        Metric(
            "pipeline.velocity",
            "Pipeline velocity",
            "Money the pipeline is expected to bring per day: open deals now × average "
            "won amount × win rate ÷ average cycle, the last three over the deals closed "
            "in the period (all when none is given); per currency.",
            "open deals × (won amount ÷ won) × (won ÷ (won + lost)) ÷ average cycle days",
            "money",
            tuple(OWNER_DIMS),
            velocity,
        ),
        Metric(
            "pipeline.weighted_forecast",
            "Weighted forecast",
            "Σ amount × stage probability of the open deals expected to close in the "
            "period, per currency (exact sum, rounded once).",
            "SUM(amount × probability) of open deals, expected close in [from, to)",
            "money",
            (*FORECAST_DIMS, "period"),
            weighted_forecast,
        ),
        Metric(
            "pipeline.forecast_vs_actual",
            "Forecast accuracy",
            "For each forecast period starting in the period: what was won in it ÷ the "
            "weighted forecast of its snapshot (the latest taken before the period "
            "started, else the earliest taken during it), per currency.",
            "won in the snapshot period ÷ Σ(amount × probability) of the snapshot × 100",
            "percent",
            ("owner", "team", "period"),
            forecast_vs_actual,
        ),
    ]
