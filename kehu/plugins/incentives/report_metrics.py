"""Incentives metrics for the reporting plugin's registry (``kehu_report_metrics``; used only
when reporting is enabled), with the plugin's visibility rules (``commission:read_all`` sees
everything; others their own commission lines and the targets ``targets.target_scope`` shows).

Dates (a line's ``source_date``, a target's first and last day) count at their midnight UTC:
they are in ``[from, to)`` when that instant is, and label periods like timestamps do."""

from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from piccolo.querystring import QueryString

from kehu.core.money import Money
from kehu.plugins.incentives.services.access import sees_everyone, sees_team
from kehu.plugins.incentives.services.actuals import MONEY_METRICS, NON_ADDITIVE
from kehu.plugins.incentives.services.targets import attainments, target_scope
from kehu.plugins.incentives.tables import Target
from kehu.plugins.reporting.hookspecs import (
    Metric,
    MetricQuery,
    MetricRow,
    Source,
    first_day,
    grouped,
    period_sql,
    utc_midnight,
)

L = "incentives_commission_line"
TG = "incentives_target"
CENT = Decimal("0.01")
FINE = Decimal("0.0001")
ALWAYS = ("metric", "scope")  # attainments of different metrics or scopes never add up


def _days_in(first: str, last: str, query: MetricQuery) -> list[QueryString]:
    """Date columns ``first`` ≥ the first day of ``from`` and ``last`` < the first day of
    ``to`` (no condition for a missing bound)."""
    out = []
    if query.start is not None:
        out.append(QueryString(f"{first} >= {{}}", first_day(query.start)))
    if query.end is not None:
        out.append(QueryString(f"{last} < {{}}", first_day(query.end)))
    return out


# -- commission ---------------------------------------------------------------------------


LINES = Source(
    f'{L} JOIN core_user u ON u.id = {L}."user"',
    {"owner": f'{L}."user"', "team": "u.team", "kind": f"{L}.kind", "currency": f"{L}.currency"},
    time_column=f"{L}.source_date",
    labels=("owner", "team"),
    dated=True,
    currency=f"{L}.currency",
)


async def _commission(query: MetricQuery) -> list[MetricRow]:
    """Ledger amounts per group and currency, summed in SQL (minor units)."""
    actor = query.actor
    if sees_everyone(actor):
        scope = None
    elif sees_team(actor):
        scope = QueryString(
            f'({L}."user" = {{}} OR {L}."user" IN (SELECT id FROM core_user WHERE team = {{}}))',
            actor.user_id,
            actor.team_id,
        )
    else:
        scope = QueryString(f'{L}."user" = {{}}', actor.user_id)
    dims = tuple(d for d in query.dimensions if d != "currency")  # always grouped by currency
    rows = await grouped(LINES, replace(query, dimensions=dims), f"SUM({L}.amount_minor)", scope)
    shown = "currency" in query.dimensions
    return [
        MetricRow(
            {**r.dimensions, **({"currency": r.currency} if shown else {})},
            Money(int(r.value), r.currency).amount,
            r.currency,
        )
        for r in rows
    ]


# -- target attainment --------------------------------------------------------------------

TARGET_DIMS = {
    "owner": "u.username",
    "team": "tm.name",
    "metric": f"{TG}.metric",
    "scope": f"{TG}.scope",
}
TARGET_IDS = {"owner": "u.id", "team": "tm.id"}


def _target_sql(query: MetricQuery) -> tuple[str, list[QueryString]]:
    """The visible leaf targets (a decomposed target counts through its parts) whose period
    lies in ``[from, to)``, with their dimension labels; the team of a user target is the
    user's."""
    labels = {**TARGET_DIMS, "period": period_sql(utc_midnight(f"{TG}.start"), query.granularity)}
    where = [
        QueryString(f"NOT EXISTS (SELECT 1 FROM {TG} c WHERE c.parent = {TG}.id)"),
        *_days_in(f'{TG}."start"', f'{TG}."end"', query),
    ]
    scope = target_scope(query.actor)
    if scope is not None:
        where.append(scope.querystring)
    for name, value in query.filters.items():  # owner / team by name or id
        column = TARGET_IDS[name] if name in TARGET_IDS and value.isdigit() else labels[name]
        where.append(QueryString(f"CAST({column} AS TEXT) = {{}}", value))
    columns = ", ".join(f"{sql} AS label_{name}" for name, sql in labels.items())
    return (
        f"SELECT {TG}.*, {columns} FROM {TG} "
        f'LEFT JOIN core_user u ON u.id = {TG}."user" '
        f"LEFT JOIN core_team tm ON tm.id = COALESCE({TG}.team, u.team) "
        f"WHERE {' AND '.join('{}' for _ in where)} ORDER BY {TG}.id",
        where,
    )


@dataclass
class _Group:
    targets: int = 0
    goal: Decimal = Decimal(0)
    actual: Decimal = Decimal(0)
    currency: str = ""


def _figure(total: Decimal, group: _Group, metric: str) -> Decimal:
    """A target or actual total as shown: money in major units, counts summed, rates and
    other non-additive figures averaged over the group's targets."""
    if metric in MONEY_METRICS:
        return Money(int(total), group.currency).amount
    if metric in NON_ADDITIVE:
        return (total / group.targets).quantize(FINE, ROUND_HALF_UP)
    return total


async def _target_attainment(query: MetricQuery) -> list[MetricRow]:
    """Σ actual ÷ Σ target × 100 per group, metric, scope and currency."""
    sql, where = _target_sql(query)
    rows = await Target.raw(sql, *where)
    dims = (*query.dimensions, *(d for d in ALWAYS if d not in query.dimensions))
    groups: dict[tuple[tuple[str, ...], str], _Group] = defaultdict(_Group)
    for found in await attainments(query.actor, rows):
        if found.actual is None:  # no actual for this kind of target (a region's CSAT)
            continue
        row = found.target
        g = groups[(tuple(row[f"label_{d}"] or "" for d in dims), row["currency"])]
        g.targets += 1
        g.goal += Decimal(row["amount_minor"] if row["amount_minor"] is not None else row["value"])
        g.actual += found.actual.number
        g.currency = row["currency"]
    out = []
    for (key, _), g in sorted(groups.items()):
        labels = dict(zip(dims, key, strict=True))
        metric = labels["metric"]
        out.append(
            MetricRow(
                labels,
                (100 * g.actual / g.goal).quantize(CENT, ROUND_HALF_UP),
                g.currency or None,
                {
                    "target": _figure(g.goal, g, metric),
                    "actual": _figure(g.actual, g, metric),
                    "targets": Decimal(g.targets),
                },
            )
        )
    return out


def report_metrics() -> list[Metric]:
    return [
        Metric(
            "incentives.commission",
            "Commission earned 提成",
            "Commission ledger lines (commissions, adjustments, clawbacks, caps) by the "
            "date of their source event, per currency; team is the earner's team.",
            "SUM(commission_line.amount)",
            "money",
            ("owner", "team", "kind", "currency", "period"),
            _commission,
        ),
        Metric(
            "incentives.target_attainment",
            "Target attainment 目标达成率",
            "Actual ÷ target of the targets whose period lies in [from, to) (decomposed "
            "targets count through their parts); every row is one target metric and "
            "scope. Measures: target, actual (sums; averages for rates, CSAT and hours), "
            "targets.",
            "Σ actual / Σ target × 100",
            "percent",
            (*TARGET_DIMS, "period"),
            _target_attainment,
        ),
    ]
