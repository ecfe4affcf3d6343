"""SQL building blocks for metrics: period buckets per engine, grouped aggregates with the
actor's visibility, and id → name labels for owner/team dimensions."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from piccolo.querystring import QueryString

from kehu.core.db import current_engine, is_sqlite
from kehu.core.tables import Team, User
from kehu.plugins.reporting.metrics import MetricQuery, MetricRow

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
    ``time_column`` is what ``from``/``to`` and the ``period`` dimension use, ``scope`` is the
    actor's visibility as a QueryString (or ``None``)."""

    table: str
    dimensions: dict[str, str]
    time_column: str | None = None
    labels: tuple[str, ...] = ()  # dimensions holding user/team ids shown by name


async def grouped(
    source: Source,
    query: MetricQuery,
    value_sql: str,
    scope: QueryString | None,
    where: list[QueryString] | None = None,
    measures: dict[str, str] | None = None,
) -> list[MetricRow]:
    """``SELECT dims, value[, measures] FROM table WHERE visibility AND filters GROUP BY dims``:
    one query; each named ``measures`` expression is aggregated over the same groups (NULL
    sums read as 0)."""
    from kehu.core.tables import Customer  # any bound table can run raw SQL

    dims = list(query.dimensions)
    exprs = [
        period_sql(source.time_column, query.granularity) if d == "period" else source.dimensions[d]
        for d in dims
    ]
    conditions: list[QueryString] = list(where or [])
    if scope is not None:
        conditions.append(scope)
    for name, value in query.filters.items():
        if name == "period":  # a label like 2026-11 or 2026-Q4, at the query's granularity
            expr = period_sql(source.time_column, query.granularity)
            conditions.append(QueryString(f"{expr} = {{}}", value))
            continue
        if name in source.labels and not value.isdigit():
            value = await id_of(name, value)
        conditions.append(QueryString(f"CAST({source.dimensions[name]} AS TEXT) = {{}}", value))
    if source.time_column and query.start:
        conditions.append(QueryString(f"{source.time_column} >= {{}}", query.start))
    if source.time_column and query.end:
        conditions.append(QueryString(f"{source.time_column} < {{}}", query.end))
    extra = list((measures or {}).items())
    select = ", ".join(
        [
            *(f"{e} AS d{i}" for i, e in enumerate(exprs)),
            f"{value_sql} AS value",
            *(f"{sql} AS m{i}" for i, (_, sql) in enumerate(extra)),
        ]
    )
    sql = f"SELECT {select} FROM {source.table}"
    if conditions:
        sql += " WHERE " + " AND ".join("{}" for _ in conditions)
    if dims:
        sql += " GROUP BY " + ", ".join(f"d{i}" for i in range(len(dims)))
        sql += " ORDER BY " + ", ".join(f"d{i}" for i in range(len(dims)))
    rows = await Customer.raw(sql, *conditions)
    names = await labels(dims, source.labels, rows)
    return [
        MetricRow(
            {d: names.get((d, r[f"d{i}"]), _text(r[f"d{i}"])) for i, d in enumerate(dims)},
            Decimal(r["value"] or 0),
            measures={name: Decimal(r[f"m{i}"] or 0) for i, (name, _) in enumerate(extra)},
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
