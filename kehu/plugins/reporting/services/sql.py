"""SQL building blocks for metrics: period buckets per engine, grouped aggregates with the
actor's visibility, and id → name labels for owner/team dimensions."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from piccolo.querystring import QueryString

from kehu.core.db import current_engine, is_sqlite
from kehu.core.tables import Team, User
from kehu.plugins.reporting.services.registry import MetricQuery, MetricRow

_SQLITE_FORMATS = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
_POSTGRES_FORMATS = {
    "day": "YYYY-MM-DD",
    "month": "YYYY-MM",
    "year": "YYYY",
    "quarter": 'YYYY-"Q"Q',
}


def period_sql(column: str, granularity: str) -> str:
    """A text label of the UTC period containing ``column`` (``2026-11``, ``2026-Q4``...),
    identical on SQLite and PostgreSQL."""
    if is_sqlite(current_engine()):
        if granularity == "quarter":
            return (
                f"(strftime('%Y', {column}) || '-Q' || "
                f"((CAST(strftime('%m', {column}) AS INTEGER) + 2) / 3))"
            )
        return f"strftime('{_SQLITE_FORMATS[granularity]}', {column})"
    return f"to_char({column} AT TIME ZONE 'UTC', '{_POSTGRES_FORMATS[granularity]}')"


@dataclass(frozen=True)
class Source:
    """A table to aggregate: ``dimensions`` maps dimension names to SQL expressions,
    ``time_column`` is what ``from``/``to`` and the ``period`` dimension use (``dated``: it is
    a DATE, so windows are whole UTC days and a date's period is that of its UTC midnight),
    ``currency`` an expression grouped on too (money: one row per currency)."""

    table: str
    dimensions: dict[str, str]
    time_column: str | None = None
    labels: tuple[str, ...] = ()  # dimensions holding user/team ids shown by name
    dated: bool = False
    currency: str | None = None


def utc_midnight(column: str) -> str:
    """A DATE column as the instant of its UTC midnight (SQLite compares the ISO text)."""
    if is_sqlite(current_engine()):
        return column
    return f"(CAST({column} AS TIMESTAMP) AT TIME ZONE 'UTC')"


def first_day(moment: datetime | None) -> date | None:
    """The first date whose UTC midnight is at or after ``moment`` (naive = UTC)."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.date() + timedelta(days=moment.time() != time())


async def grouped(
    source: Source,
    query: MetricQuery,
    value_sql: str,
    scope: QueryString | None,
    where: list[QueryString] | None = None,
    measures: dict[str, str] | None = None,
) -> list[MetricRow]:
    """``SELECT dims[, currency], value[, measures] FROM table WHERE visibility AND filters
    AND window GROUP BY dims[, currency]``: one query; each named ``measures`` expression is
    aggregated over the same groups (NULL sums read as 0)."""
    from kehu.core.tables import Customer  # any bound table can run raw SQL

    dims = list(query.dimensions)
    column = source.time_column or ""
    period = period_sql(utc_midnight(column) if source.dated else column, query.granularity)
    keys = [period if d == "period" else source.dimensions[d] for d in dims]
    keys += [source.currency] if source.currency else []
    conditions: list[QueryString] = list(where or [])
    if scope is not None:
        conditions.append(scope)
    for name, value in query.filters.items():
        if name == "period":  # a label like 2026-11 or 2026-Q4, at the query's granularity
            conditions.append(QueryString(f"{period} = {{}}", value))
            continue
        if name in source.labels and not value.isdigit():
            value = await id_of(name, value)
        conditions.append(QueryString(f"CAST({source.dimensions[name]} AS TEXT) = {{}}", value))
    start, end = query.start, query.end
    if source.dated:
        start, end = first_day(start), first_day(end)
    if column and start:
        conditions.append(QueryString(f"{column} >= {{}}", start))
    if column and end:
        conditions.append(QueryString(f"{column} < {{}}", end))
    extra = list((measures or {}).items())
    select = ", ".join(
        [
            *(f"{e} AS d{i}" for i, e in enumerate(keys)),
            f"{value_sql} AS value",
            *(f"{sql} AS m{i}" for i, (_, sql) in enumerate(extra)),
        ]
    )
    sql = f"SELECT {select} FROM {source.table}"
    if conditions:
        sql += " WHERE " + " AND ".join("{}" for _ in conditions)
    if keys:
        order = ", ".join(f"d{i}" for i in range(len(keys)))
        sql += f" GROUP BY {order} ORDER BY {order}"
    rows = await Customer.raw(sql, *conditions)
    names = await labels(dims, source.labels, rows)
    return [
        MetricRow(
            {d: names.get((d, r[f"d{i}"]), _text(r[f"d{i}"])) for i, d in enumerate(dims)},
            Decimal(r["value"] or 0),
            r[f"d{len(dims)}"] if source.currency else None,
            {name: Decimal(r[f"m{i}"] or 0) for i, (name, _) in enumerate(extra)},
        )
        for r in rows
    ]


async def id_of(dimension: str, name: str) -> str:
    """A user or team filter given by name → its id ("-1" when unknown: no rows)."""
    table, column = (Team, Team.name) if dimension == "team" else (User, User.username)
    row = await table.select(table.id).where(column == name).first()
    return str(row["id"]) if row else "-1"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


async def labels(
    dims: list[str], label_dims: tuple[str, ...], rows: list[dict]
) -> dict[tuple[str, Any], str]:
    """Usernames and team names for id dimensions (one query per kind)."""
    out: dict[tuple[str, Any], str] = {}
    for i, dim in enumerate(dims):
        if dim not in label_dims:
            continue
        ids = sorted({r[f"d{i}"] for r in rows if r[f"d{i}"] is not None})
        if not ids:
            continue
        table, column = (Team, Team.name) if dim == "team" else (User, User.username)
        for row in await table.select(table.id, column).where(table.id.is_in(ids)):
            out[(dim, row["id"])] = row[column._meta.name]
    return out
