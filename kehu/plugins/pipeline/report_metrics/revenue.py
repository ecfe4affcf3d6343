"""Revenue and customer-value metrics of the pipeline for the reporting registry. Won deals are
the purchases: ``closed_at`` is when, ``amount`` what (per currency, summed in minor units in
SQL) and the customer who.

Deal metrics (revenue, product revenue, growth) group by the deal's owner and team; customer
metrics (retention, churn, repurchase, lifetime value) by the customer's. ``channel`` is the
deal's ``source``, or the customer's when the deal has none. Every query counts only the deals
the actor may see (``services.opportunity_scope``)."""

import calendar
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from piccolo.querystring import QueryString

from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import ValidationFailed
from kehu.core.money import Money
from kehu.core.services.common import now
from kehu.core.tables import Customer
from kehu.plugins.pipeline import services
from kehu.plugins.reporting.hookspecs import (
    Metric,
    MetricQuery,
    MetricRow,
    Source,
    grouped,
    id_of,
    labels,
)

OPP = "pipeline_opportunity"
CUST = "core_customer"
LINE = "pipeline_line_item"
WON_FROM = f"{OPP} JOIN {CUST} ON {CUST}.id = {OPP}.customer"
CLOSED = f"{OPP}.closed_at"
CHANNEL = f"COALESCE(NULLIF({OPP}.source, ''), {CUST}.source, '')"
LABELS = ("owner", "team")  # id dimensions shown by name
CENT = Decimal("0.01")

REVENUE_DIMS = {
    "owner": f"{OPP}.owner",
    "team": f"{OPP}.team",
    "pipeline": f"{OPP}.pipeline",
    "region": f"{CUST}.region",
    "industry": f"{CUST}.industry",
    "tier": f"{CUST}.tier",
    "source": f"{CUST}.source",
    "channel": CHANNEL,
    "currency": f"{OPP}.currency",
}
WON = Source(WON_FROM, REVENUE_DIMS, time_column=CLOSED, labels=LABELS)
PRODUCT_DIMS = {
    "product": f"COALESCE({LINE}.product, '')",
    **{d: REVENUE_DIMS[d] for d in ("owner", "team", "region", "industry", "channel")},
    "currency": f"COALESCE({LINE}.currency, {OPP}.currency)",
}
PRODUCTS = Source(
    f"{WON_FROM} LEFT JOIN {LINE} ON {LINE}.opportunity = {OPP}.id",
    PRODUCT_DIMS,
    time_column=CLOSED,
    labels=LABELS,
)
LINE_AMOUNT = (
    f"SUM(CASE WHEN {LINE}.id IS NULL THEN {OPP}.amount_minor "
    f"ELSE {LINE}.quantity * {LINE}.unit_price_minor END)"
)
GROWTH_DIMS = {
    d: REVENUE_DIMS[d] for d in ("owner", "team", "region", "industry", "channel", "currency")
}
CUSTOMER_DIMS = {
    "owner": f"{CUST}.owner",
    "team": f"{CUST}.team",
    "region": f"{CUST}.region",
    "industry": f"{CUST}.industry",
    "tier": f"{CUST}.tier",
}
CLV_DIMS = {**CUSTOMER_DIMS, "channel": CHANNEL, "currency": f"{OPP}.currency"}

Compute = Callable[[MetricQuery], Awaitable[list[MetricRow]]]

# -- periods -----------------------------------------------------------------------------------

EPOCH = date(1970, 1, 1)
_PER_YEAR = {"month": 12, "quarter": 4, "year": 1}


def period_index(moment: datetime, granularity: str) -> int:
    """Ordinal of the UTC period containing ``moment`` (consecutive periods differ by 1)."""
    moment = moment.astimezone(UTC)
    if granularity == "day":
        return (moment.date() - EPOCH).days
    per_year = _PER_YEAR[granularity]
    return moment.year * per_year + (moment.month - 1) * per_year // 12


def period_start(index: int, granularity: str) -> datetime:
    """The first instant of the period ``index``."""
    if granularity == "day":
        day = EPOCH + timedelta(days=index)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    per_year = _PER_YEAR[granularity]
    return datetime(index // per_year, index % per_year * 12 // per_year + 1, 1, tzinfo=UTC)


def period_label(index: int, granularity: str) -> str:
    """The label ``reporting.sql.period_sql`` gives the period (``2026-11``, ``2026-Q4``...)."""
    start = period_start(index, granularity)
    if granularity == "quarter":
        return f"{start.year}-Q{(start.month + 2) // 3}"
    return start.strftime({"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[granularity])


def period_index_sql(column: str, granularity: str) -> str:
    """``period_index`` of ``column`` in SQL, identical on SQLite and PostgreSQL."""
    if is_sqlite(current_engine()):
        if granularity == "day":
            return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"
        year, month = (f"CAST(strftime('%{p}', {column}) AS INTEGER)" for p in "Ym")
    else:
        utc = f"({column} AT TIME ZONE 'UTC')"
        if granularity == "day":
            return f"(CAST({utc} AS DATE) - DATE '1970-01-01')"
        year, month = (f"CAST(EXTRACT({p} FROM {utc}) AS INTEGER)" for p in ("YEAR", "MONTH"))
    per_year = _PER_YEAR[granularity]
    return f"({year} * {per_year} + ({month} - 1) / {12 // per_year})"


def _add_months(moment: datetime, months: int) -> datetime:
    """``moment`` shifted by whole months (the day clamped to the target month's length)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True)
class Window:
    """The reported range ``[start, end)`` and the comparison range ``[previous, start)``.

    With the ``period`` dimension (``granularity`` set) ``start`` is floored to its period and
    each period is compared with the one before it; without, the whole window is compared with
    the equally long window just before it. Index ``p`` is the period ordinal, or 0 (the
    previous window) / 1 (the window)."""

    start: datetime
    end: datetime
    previous: datetime
    granularity: str | None

    @property
    def last(self) -> int:
        if self.granularity is None:
            return 1
        return period_index(self.end - timedelta(microseconds=1), self.granularity)

    def index_sql(self) -> QueryString:
        if self.granularity is None:
            return QueryString(f"CASE WHEN {CLOSED} < {{}} THEN 0 ELSE 1 END", self.start)
        return QueryString(period_index_sql(CLOSED, self.granularity))

    def label(self, index: int) -> str:
        return "" if self.granularity is None else period_label(index, self.granularity)


def window(q: MetricQuery) -> Window:
    """``[from, to)`` of a window metric: ``to`` defaults to the start of next month (UTC) and
    ``from`` to 12 months before ``to``, i.e. the last 12 calendar months including this one."""
    end = _aware(q.end) if q.end else period_start(period_index(now(), "month") + 1, "month")
    start = _aware(q.start) if q.start else _add_months(end, -12)
    if start >= end:
        raise ValidationFailed("from must be before to", field="from")
    if "period" not in q.dimensions:
        return Window(start, end, _previous(start, end), None)
    first = period_index(start, q.granularity)
    return Window(
        period_start(first, q.granularity),
        end,
        period_start(first - 1, q.granularity),
        q.granularity,
    )


def _previous(start: datetime, end: datetime) -> datetime:
    """Start of the window as long as ``[start, end)`` just before it: as many calendar months
    when both ends are month starts (February → January), else the same duration."""
    if all(m == period_start(period_index(m, "month"), "month") for m in (start, end)):
        return _add_months(start, period_index(start, "month") - period_index(end, "month"))
    return start - (end - start)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- SQL over won deals --------------------------------------------------------------------------


async def _where(
    q: MetricQuery, dims: dict[str, str], since: datetime | None, until: datetime | None
) -> QueryString:
    """Won, visible to the actor, matching the filters, closed in ``[since, until)``."""
    conditions = [QueryString(f"{OPP}.status = 'won'")]
    scope = services.opportunity_scope(q.actor)
    if scope is not None:
        conditions.append(scope.querystring)
    for name, value in q.filters.items():
        if name in LABELS and not value.isdigit():
            value = await id_of(name, value)
        conditions.append(QueryString(f"CAST({dims[name]} AS TEXT) = {{}}", value))
    if since is not None:
        conditions.append(QueryString(f"{CLOSED} >= {{}}", since))
    if until is not None:
        conditions.append(QueryString(f"{CLOSED} < {{}}", until))
    return QueryString(" AND ".join("{}" for _ in conditions), *conditions)


def _names(q: MetricQuery) -> list[str]:
    """The requested dimensions computed as columns ``d0, d1...`` (not period or currency)."""
    return [d for d in q.dimensions if d not in ("period", "currency")]


def _columns(dims: dict[str, str], names: list[str]) -> tuple[str, str]:
    """``"expr AS d0, ..."`` for a SELECT and ``"d0, ..."`` for GROUP BY (each with a
    trailing comma, or empty)."""
    select = "".join(f"{dims[n]} AS d{i}, " for i, n in enumerate(names))
    return select, "".join(f"d{i}, " for i in range(len(names)))


async def _raw(sql: str, *args: Any) -> list[dict[str, Any]]:
    return await Customer.raw(sql, *args)


async def _dimensions(
    q: MetricQuery, names: list[str], rows: list[dict[str, Any]], window_: Window | None = None
) -> list[dict[str, str]]:
    """Each row's dimensions: owner/team by name, ``period`` and ``currency`` if asked."""
    shown = await labels(names, LABELS, rows)
    out = []
    for row in rows:
        values = {
            n: shown.get((n, row[f"d{i}"]), "" if row[f"d{i}"] is None else str(row[f"d{i}"]))
            for i, n in enumerate(names)
        }
        if window_ is not None and window_.granularity is not None:
            values["period"] = window_.label(row["p"])
        if "currency" in q.dimensions:
            values["currency"] = row["cur"]
        out.append({d: values[d] for d in q.dimensions})
    return out


def _percent(part: int, whole: int) -> Decimal:
    """``services.percent`` of a group whose ``whole`` is never 0 (such groups are left out)."""
    value = services.percent(int(part), int(whole))
    assert value is not None
    return value


def _money(total_minor: Any, count: Any, currency: str) -> Decimal:
    """``total ÷ count`` minor units, rounded half up to the minor unit, in major units."""
    minor = (Decimal(int(total_minor)) / int(count)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Money(int(minor), currency).amount


def _ordered(q: MetricQuery, rows: list[MetricRow]) -> list[MetricRow]:
    """Rows sorted by their dimension values, in the order the dimensions were asked for."""
    return sorted(rows, key=lambda r: tuple(r.dimensions.get(d, "") for d in q.dimensions))


def period_filter(compute: Compute) -> Compute:
    """Support a ``period`` filter (a label such as ``2026-03``): compute by period and keep
    the matching period's rows (``grouped`` filters columns only)."""

    async def run(q: MetricQuery) -> list[MetricRow]:
        label = q.filters.get("period")
        if label is None:
            return await compute(q)
        filters = {k: v for k, v in q.filters.items() if k != "period"}
        dims = q.dimensions if "period" in q.dimensions else (*q.dimensions, "period")
        rows = [
            r
            for r in await compute(replace(q, dimensions=dims, filters=filters))
            if r.dimensions["period"] == label
        ]
        if "period" not in q.dimensions:
            for row in rows:
                del row.dimensions["period"]
        return rows

    return run


# -- metrics ---------------------------------------------------------------------------------


async def _money_rows(source: Source, q: MetricQuery, value_sql: str) -> list[MetricRow]:
    """``grouped`` per requested dimension and currency; minor units → ``Money`` amounts."""
    dims = (*(d for d in q.dimensions if d != "currency"), "currency")
    scope = services.opportunity_scope(q.actor)
    rows = await grouped(
        source,
        replace(q, dimensions=dims),
        value_sql,
        None if scope is None else scope.querystring,
        [QueryString(f"{OPP}.status = 'won'")],
    )
    out = []
    for row in rows:
        currency = row.dimensions.pop("currency")
        if "currency" in q.dimensions:
            row.dimensions["currency"] = currency
        out.append(MetricRow(row.dimensions, Money(int(row.value), currency).amount, currency))
    return out


async def revenue(q: MetricQuery) -> list[MetricRow]:
    """Won amount per group and currency (amounts are summed in minor units)."""
    return await _money_rows(WON, q, f"SUM({OPP}.amount_minor)")


async def product_revenue(q: MetricQuery) -> list[MetricRow]:
    """Won line amounts (quantity × unit price) per product; a won deal without line items
    counts its amount under product ``""``."""
    return await _money_rows(PRODUCTS, q, LINE_AMOUNT)


async def sales_growth(q: MetricQuery) -> list[MetricRow]:
    """Won revenue of each period (or the window) against the one before, per currency."""
    w = window(q)
    names = _names(q)
    select, group = _columns(GROWTH_DIMS, names)
    rows = await _raw(
        f"SELECT {select}{OPP}.currency AS cur, {{}} AS p, SUM({OPP}.amount_minor) AS total "
        f"FROM {WON_FROM} WHERE {{}} GROUP BY {group}cur, p",
        w.index_sql(),
        await _where(q, GROWTH_DIMS, w.previous, w.end),
    )
    totals = {
        ((*(r[f"d{i}"] for i in range(len(names))), r["cur"]), r["p"]): int(r["total"] or 0)
        for r in rows
    }
    found = [
        {
            **{f"d{i}": v for i, v in enumerate(key[:-1])},
            "cur": key[-1],
            "p": p + 1,
            "current": totals.get((key, p + 1), 0),
            "previous": previous,
        }
        for (key, p), previous in totals.items()
        if previous and p < w.last
    ]
    dims = await _dimensions(q, names, found, w)
    return _ordered(
        q,
        [
            MetricRow(
                d,
                _percent(r["current"] - r["previous"], r["previous"]),
                r["cur"],
                {
                    "current": Money(r["current"], r["cur"]).amount,
                    "previous": Money(r["previous"], r["cur"]).amount,
                },
            )
            for d, r in zip(dims, found, strict=True)
        ],
    )


async def _buyers(q: MetricQuery, w: Window, since: datetime) -> QueryString:
    """``SELECT customer, d0.., p, COUNT(*) AS n``: won deals per visible customer and period
    (customer dimensions are the customer's, so one row per customer and period)."""
    select, group = _columns(CUSTOMER_DIMS, _names(q))
    return QueryString(
        f"SELECT {OPP}.customer AS customer, {select}{{}} AS p, COUNT(*) AS n "
        f"FROM {WON_FROM} WHERE {{}} GROUP BY {OPP}.customer, {group}p",
        w.index_sql(),
        await _where(q, CUSTOMER_DIMS, since, w.end),
    )


async def _retention(q: MetricQuery) -> list[tuple[dict[str, str], int, int]]:
    """``(dimensions, previous_customers, retained)`` per group and period: the customers who
    bought in the period before, and how many of them bought again (in one query)."""
    w = window(q)
    names = _names(q)
    keys = "".join(f"b.d{i}, " for i in range(len(names)))
    select = "".join(f"b.d{i} AS d{i}, " for i in range(len(names)))
    rows = await _raw(
        f"WITH b AS ({{}}) SELECT {select}b.p + 1 AS p, COUNT(*) AS previous, "
        f"COUNT(a.customer) AS retained FROM b LEFT JOIN b a ON a.customer = b.customer "
        f"AND a.p = b.p + 1 WHERE b.p < {{}} GROUP BY {keys}b.p",
        await _buyers(q, w, w.previous),
        w.last,
    )
    dims = await _dimensions(q, names, rows, w)
    return [(d, int(r["previous"]), int(r["retained"])) for d, r in zip(dims, rows, strict=True)]


async def retention_rate(q: MetricQuery) -> list[MetricRow]:
    return _ordered(
        q,
        [
            MetricRow(
                d,
                _percent(retained, previous),
                measures={"previous_customers": Decimal(previous), "retained": Decimal(retained)},
            )
            for d, previous, retained in await _retention(q)
        ],
    )


async def churn_rate(q: MetricQuery) -> list[MetricRow]:
    return _ordered(
        q,
        [
            MetricRow(
                d,
                100 - _percent(retained, previous),
                measures={
                    "previous_customers": Decimal(previous),
                    "retained": Decimal(retained),
                    "lost": Decimal(previous - retained),
                },
            )
            for d, previous, retained in await _retention(q)
        ],
    )


async def repurchase_rate(q: MetricQuery) -> list[MetricRow]:
    """Customers with two or more won deals in the period ÷ customers with at least one."""
    w = window(q)
    names = _names(q)
    keys = "".join(f"d{i}, " for i in range(len(names)))
    rows = await _raw(
        f"SELECT {keys}p, COUNT(*) AS buyers, SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END) "
        f"AS repeat_buyers FROM ({{}}) b GROUP BY {keys}p",
        await _buyers(q, w, w.start),
    )
    dims = await _dimensions(q, names, rows, w)
    return _ordered(
        q,
        [
            MetricRow(
                d,
                _percent(r["repeat_buyers"], r["buyers"]),
                measures={
                    "buyers": Decimal(r["buyers"]),
                    "repeat_buyers": Decimal(r["repeat_buyers"]),
                },
            )
            for d, r in zip(dims, rows, strict=True)
        ],
    )


async def customer_lifetime_value(q: MetricQuery) -> list[MetricRow]:
    """Won amount of deals closed before ``to`` (and from ``from`` when given) ÷ customers
    who won at least one of them, per currency."""
    names = _names(q)
    select, group = _columns(CLV_DIMS, names)
    rows = await _raw(
        f"SELECT {select}{OPP}.currency AS cur, SUM({OPP}.amount_minor) AS total, "
        f"COUNT(DISTINCT {OPP}.customer) AS customers, COUNT(*) AS deals "
        f"FROM {WON_FROM} WHERE {{}} GROUP BY {group}cur",
        await _where(q, CLV_DIMS, q.start, q.end or now()),
    )
    dims = await _dimensions(q, names, rows)
    return _ordered(
        q,
        [
            MetricRow(
                d,
                _money(r["total"], r["customers"], r["cur"]),
                r["cur"],
                {
                    "customers": Decimal(r["customers"]),
                    "deals": Decimal(r["deals"]),
                    "average_deal": _money(r["total"], r["deals"], r["cur"]),
                    "purchase_frequency": (Decimal(r["deals"]) / r["customers"]).quantize(
                        CENT, rounding=ROUND_HALF_UP
                    ),
                },
            )
            for d, r in zip(dims, rows, strict=True)
        ],
    )


WINDOW_TEXT = (
    " Window: [from, to), by default the last 12 calendar months including the "
    "current one; with the period dimension each period is compared with the one "
    "before it."
)


def revenue_metrics() -> list[Metric]:
    return [
        Metric(
            "pipeline.revenue",
            "Won revenue",
            "Amount of deals won in the period (by close date), per currency. channel = the "
            "deal's source, else the customer's.",
            "SUM(amount of won deals closed in [from, to))",
            "money",
            (*REVENUE_DIMS, "period"),
            period_filter(revenue),
            chart="bar",
        ),
        Metric(
            "pipeline.product_revenue",
            "Revenue by product",
            "Won line items (quantity × unit price) per product and currency; a won deal "
            "without line items counts its amount under product ''.",
            "SUM(quantity × unit price of lines of won deals closed in [from, to))",
            "money",
            (*PRODUCT_DIMS, "period"),
            period_filter(product_revenue),
            chart="bar",
        ),
        Metric(
            "pipeline.sales_growth",
            "Sales growth rate",
            "Won revenue against the previous period of the same length, per currency; a "
            "group without previous revenue is left out (growth undefined)." + WINDOW_TEXT,
            "(current − previous) ÷ previous × 100",
            "percent",
            (*GROWTH_DIMS, "period"),
            period_filter(sales_growth),
            chart="line",
        ),
        Metric(
            "pipeline.retention_rate",
            "Customer retention rate",
            "Customers who won a deal in the previous period and again in this one, of "
            "the previous period's buyers; a group without previous buyers is left out."
            + WINDOW_TEXT,
            "retained ÷ previous_customers × 100",
            "percent",
            (*CUSTOMER_DIMS, "period"),
            period_filter(retention_rate),
            chart="line",
        ),
        Metric(
            "pipeline.churn_rate",
            "Customer churn rate",
            "Previous period's buyers who bought nothing in this one; a group without "
            "previous buyers is left out." + WINDOW_TEXT,
            "100 − retention rate = lost ÷ previous_customers × 100",
            "percent",
            (*CUSTOMER_DIMS, "period"),
            period_filter(churn_rate),
            chart="line",
        ),
        Metric(
            "pipeline.repurchase_rate",
            "Repurchase rate",
            "Customers with two or more won deals in the window, of those with at least "
            "one (per period with the period dimension). Window: [from, to), by default the "
            "last 12 calendar months including the current one.",
            "repeat_buyers ÷ buyers × 100",
            "percent",
            (*CUSTOMER_DIMS, "period"),
            period_filter(repurchase_rate),
            chart="bar",
        ),
        Metric(
            "pipeline.customer_lifetime_value",
            "Customer lifetime value",
            "Historical value per customer, per currency: won amount of deals closed "
            "before to (default now; from, if given, limits the history) ÷ customers "
            "with such a deal. With channel a customer counts in each channel bought "
            "through.",
            "SUM(won amount) ÷ COUNT(DISTINCT customer) = average_deal × purchase_frequency",
            "money",
            tuple(CLV_DIMS),
            customer_lifetime_value,
            chart="bar",
        ),
    ]
