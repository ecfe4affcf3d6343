"""Contracts and receivables metrics for the reporting plugin's registry
(``kehu_report_metrics``; only used when reporting is enabled). Each wraps a grouped service
function of :mod:`kehu.plugins.contracts.services` — one SQL aggregate with the actor's
receivables visibility, money summed in minor units per currency — and turns its groups into
metric rows: owner/team by name, money in major units with its currency, percentages 0–100 and
days to 0.01 (half up). A group whose ratio is undefined (nothing due, submitted, expiring or
invoiced) has no row."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kehu.core.money import Money
from kehu.plugins.contracts import services as r
from kehu.plugins.contracts.services import config, today
from kehu.plugins.reporting.hookspecs import (
    Metric,
    MetricQuery,
    MetricRow,
    period_sql,
    utc_midnight,
)

CENT = Decimal("0.01")
PARTIES = {
    "owner": "k.owner",  # the contract's owner and team
    "team": "k.team",
    "region": "cu.region",  # the customer's region, industry and tier
    "industry": "cu.industry",
    "tier": "cu.tier",
}
MONEY = {**PARTIES, "currency": "k.currency"}
LABELS = {"owner": ("core_user", "username"), "team": ("core_team", "name")}
Build = Callable[[Any], tuple[Decimal, dict[str, Decimal | None]] | None]


def _period(query: MetricQuery) -> tuple[date, date]:
    """``[start, end)`` as inclusive dates (default: the 30 days up to today)."""
    end = _as_of(query)
    start = query.start.date() if query.start else end - timedelta(days=29)
    return start, end


def _as_of(query: MetricQuery) -> date:
    """The last day of ``[start, end)`` (default: today): the date of snapshot metrics."""
    return (query.end - timedelta(microseconds=1)).date() if query.end else today()


def _day_period(column: str, granularity: str) -> str:
    """The ``period`` of a DATE column (that of its UTC midnight)."""
    return period_sql(utc_midnight(column), granularity)


def _filter(name: str, sql: str, value: str) -> r.Fragment:
    """``dimension = value``; owner and team by id or by user/team name."""
    if name in LABELS and not value.isdigit():
        table, column = LABELS[name]
        return f"{sql} IN (SELECT id FROM {table} WHERE {column} = {{}})", [value]
    return f"CAST({sql} AS TEXT) = {{}}", [value]


def _grouping(query: MetricQuery, columns: dict[str, str], period: str | None = None) -> r.Grouping:
    """The query's dimensions and filters as SQL over the service's aliases (``currency`` is
    always grouped by the services themselves)."""
    exprs = {**columns, "period": period} if period else columns
    return r.Grouping(
        {d: exprs[d] for d in query.dimensions if d in exprs and d != "currency"},
        tuple(_filter(n, exprs[n], v) for n, v in query.filters.items() if n in exprs),
    )


async def _rows(
    query: MetricQuery, groups: list[Any], build: Build, dims: tuple[str, ...] | None = None
) -> list[MetricRow]:
    """Metric rows of service groups (``.group``, ``.currency``): ``build`` gives the value
    and measures, or ``None`` to leave an undefined group out; owner/team ids become names."""
    built = [(g, b) for g in groups if (b := build(g)) is not None]
    dims = dims or query.dimensions
    names = {
        d: await r.group_names(d, [g.group.get(d) for g, _ in built]) for d in LABELS if d in dims
    }
    out = []
    for g, (value, measures) in built:
        raw = {d: g.currency if d == "currency" else g.group.get(d) for d in dims}
        labels = {d: names.get(d, {}).get(v, "" if v is None else str(v)) for d, v in raw.items()}
        out.append(MetricRow(labels, value, g.currency, measures))
    return out


def _money(minor: int, currency: str) -> Decimal:
    return Money(minor, currency).amount


def _rate(num: str, den: str, money: bool = False) -> Build:
    """``num / den × 100`` of a group's sums, with both as measures (counts, or major units
    when ``money``); undefined when ``den`` is 0."""

    def build(g: r.GroupRow) -> tuple[Decimal, dict[str, Decimal | None]] | None:
        n, d = g.values[num], g.values[den]
        if not d:
            return None
        value = (Decimal(100 * n) / d).quantize(CENT, rounding=ROUND_HALF_UP)
        measure = (lambda v: _money(v, g.currency)) if money else Decimal
        return value, {den: measure(d), num: measure(n)}

    return build


def _amount(key: str, count: str | None = None) -> Build:
    """A money sum of the group, with a count measure if given."""
    return lambda g: (
        _money(g.values[key], g.currency),
        {count: Decimal(g.values[count])} if count else {},
    )


async def _collection_rate(q: MetricQuery) -> list[MetricRow]:
    start, end = _period(q)
    period = _day_period(r.DUE_DATE, q.granularity)
    groups = await r.collection_sums(q.actor, start, end, _grouping(q, MONEY, period))
    return await _rows(q, groups, _rate("collected", "due", money=True))


async def _signing_rate(q: MetricQuery) -> list[MetricRow]:
    start, end = _period(q)
    grouping = _grouping(q, PARTIES, period_sql(r.SUBMITTED_AT, q.granularity))
    groups = await r.signing_counts(q.actor, start, end, grouping)
    return await _rows(q, groups, _rate("signed", "submitted"))


async def _dso(q: MetricQuery) -> list[MetricRow]:
    start, end = _period(q)
    groups = await r.dso_by_group(q.actor, start, end, _grouping(q, MONEY))
    return await _rows(
        q,
        groups,
        lambda g: (
            g.dso.quantize(CENT, rounding=ROUND_HALF_UP),
            {
                "open": _money(g.open, g.currency),
                "invoiced": _money(g.invoiced, g.currency),
                "days": Decimal(g.days),
            },
        ),
    )


def _open(overdue_only: bool) -> Callable[[MetricQuery], Any]:
    async def compute(q: MetricQuery) -> list[MetricRow]:
        grouping = _grouping(q, MONEY)
        groups = await r.open_receivables(q.actor, _as_of(q), grouping, overdue_only=overdue_only)
        return await _rows(q, groups, _amount("open"))

    return compute


async def _aging(q: MetricQuery) -> list[MetricRow]:
    """Every bucket, in order, for each group with anything open (zero where nothing is)."""
    bounds = config().aging_buckets
    groups = await r.open_receivables(q.actor, _as_of(q), _grouping(q, MONEY), buckets=bounds)
    wanted = [b for b in r.bucket_names(bounds) if b == q.filters.get("bucket", b)]
    rows = [
        r.GroupRow({**g.group, "bucket": b}, g.currency, {"open": g.values[b]})
        for g in groups
        for b in wanted
    ]
    dims = q.dimensions if "bucket" in q.dimensions else ("bucket", *q.dimensions)
    return await _rows(q, rows, _amount("open"), dims)


async def _renewal_rate(q: MetricQuery) -> list[MetricRow]:
    start, end = _period(q)
    grouping = _grouping(q, PARTIES, _day_period(r.END_DATE, q.granularity))
    groups = await r.renewal_counts(q.actor, start, end, grouping)
    return await _rows(q, groups, _rate("renewed", "expiring"))


async def _signed_amount(q: MetricQuery) -> list[MetricRow]:
    start, end = _period(q)
    by_line = "product" in q.dimensions or "product" in q.filters
    columns = {**MONEY, "product": "l.product"} if by_line else MONEY
    grouping = _grouping(q, columns, _day_period(r.SIGNED_ON, q.granularity))
    groups = await r.signed_sums(q.actor, start, end, grouping, by_line=by_line)
    return await _rows(q, groups, _amount("amount", "contracts"))


async def _collected_amount(q: MetricQuery) -> list[MetricRow]:
    start, end = _period(q)
    grouping = _grouping(q, MONEY, _day_period(r.APPLIED_ON, q.granularity))
    groups = await r.collected_sums(q.actor, start, end, grouping)
    return await _rows(q, groups, _amount("amount", "payments"))


def report_metrics() -> list[Metric]:
    money, parties = tuple(MONEY), tuple(PARTIES)
    return [
        Metric(
            "contracts.collection_rate",
            "Collection rate 回款率",
            "Collected on the installments due in the period / their amount, per currency",
            "100 × Σ allocated to them by the period end / Σ installments due in [from, to)",
            "percent",
            (*money, "period"),
            _collection_rate,
            chart="line",
        ),
        Metric(
            "contracts.signing_rate",
            "Contract signing rate 签约率",
            "Of the contracts submitted for approval in the period, the share signed since",
            "100 × COUNT(signed) / COUNT(contracts submitted in [from, to))",
            "percent",
            (*parties, "period"),
            _signing_rate,
        ),
        Metric(
            "contracts.dso",
            "DSO 应收账款周转天数",
            "Days sales outstanding, per currency",
            "Σ open receivables at the period end / Σ invoiced in [from, to) × days in it",
            "days",
            money,
            _dso,
        ),
        Metric(
            "contracts.overdue_amount",
            "Overdue receivables 逾期应收",
            "Open amount past due as of the end of the period (default today), per currency",
            "Σ (amount − paid − credited as of `to`) of installments due before `to`",
            "money",
            money,
            _open(overdue_only=True),
            time_based=False,
        ),
        Metric(
            "contracts.open_receivables",
            "Open receivables 应收余额",
            "Open amount of signed contracts' installments as of the end of the period "
            "(default today), per currency",
            "Σ (amount − paid − credited as of `to`)",
            "money",
            money,
            _open(overdue_only=False),
            time_based=False,
        ),
        Metric(
            "contracts.aging",
            "Receivables aging 账龄",
            "Open receivables by days past due as of the end of the period (default today), "
            "in the configured buckets; the buckets partition contracts.open_receivables",
            "Σ open as of `to` by bucket of (`to` − due date): current, 1-30, 31-60…",
            "money",
            ("bucket", *money),
            _aging,
            time_based=False,
        ),
        Metric(
            "contracts.renewal_rate",
            "Renewal rate 续约率",
            "Contracts ending in the period that were renewed: the customer has another "
            "contract in force starting within renewal_grace_days of the end date",
            "100 × COUNT(renewed) / COUNT(contracts in force with end_date in [from, to))",
            "percent",
            (*parties, "period"),
            _renewal_rate,
        ),
        Metric(
            "contracts.signed_amount",
            "Signed contract revenue 签约额",
            "Totals of the contracts signed in the period (not terminated), per currency; by "
            "product: the amounts of their lines",
            "Σ total (by product: Σ line amount) of contracts with signed_on in [from, to)",
            "money",
            (*money, "product", "period"),
            _signed_amount,
        ),
        Metric(
            "contracts.collected_amount",
            "Collected amount 回款额",
            "Payments allocated to installments in the period (by receipt date), per currency",
            "Σ allocations applied in [from, to)",
            "money",
            (*money, "period"),
            _collected_amount,
        ),
    ]
