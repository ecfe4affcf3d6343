"""Grouped SQL aggregates over installments and payments (aging, metrics and reports build on
them)."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kehu.core.permissions import Actor
from kehu.plugins.contracts.services.common import S, raw_scope, sql_date
from kehu.plugins.contracts.tables import Installment

Fragment = tuple[str, list[Any]]  # SQL with ``{}`` placeholders and their parameters


IN_FORCE_STATES = (S.signed, S.in_execution, S.completed, S.disputed)  # signed, not terminated


_IN_FORCE_SQL = ", ".join(f"'{s.value}'" for s in IN_FORCE_STATES)


_INSTALLMENTS = "contracts_installment i JOIN contracts_contract k ON k.id = i.contract"


@dataclass(frozen=True)
class Grouping:
    """How a report groups and narrows an aggregate. ``columns`` maps dimension names to SQL
    expressions over the aggregate's aliases (``k`` contract, ``cu`` customer, and the fact
    table's: ``i`` installment, ``v`` invoice, ``a`` allocation, ``l`` contract line);
    ``where`` holds extra conditions."""

    columns: dict[str, str] = field(default_factory=dict)
    where: tuple[Fragment, ...] = ()


@dataclass(frozen=True)
class GroupRow:
    """One group of an aggregate: raw dimension values (ids for owner/team), the currency
    (``None`` for counts) and the aggregates (integers: minor units or counts)."""

    group: dict[str, Any]
    currency: str | None
    values: dict[str, int]


def _period_dates(date_from: date, date_to: date, column: str) -> Fragment:
    return f"{column} >= {{}} AND {column} <= {{}}", [sql_date(date_from), sql_date(date_to)]


async def _aggregate(
    actor: Actor,
    source: Fragment,
    values: dict[str, str | Fragment],
    grouping: Grouping,
    conditions: list[Fragment],
    *,
    customer: str = "k.customer",
    by_currency: bool = True,
) -> list[GroupRow]:
    """``SELECT [currency,] columns, values FROM source WHERE conditions AND visibility GROUP
    BY [currency,] columns`` in one statement; without groups it returns one row (zeros when
    nothing matched). The customer ``cu`` is joined (on ``customer``) only when a column, a
    value, a condition or the visibility rule refers to it."""
    cols = [("currency", "k.currency")] if by_currency else []
    cols += list(grouping.columns.items())
    aliases = [f"g{n}" for n in range(len(cols))]
    aggregates = [v if isinstance(v, tuple) else (v, []) for v in values.values()]
    where = [*conditions, *grouping.where, raw_scope(actor)]
    select = [f"{sql} AS {alias}" for (_, sql), alias in zip(cols, aliases, strict=True)]
    select += [f"{sql} AS v{n}" for n, (sql, _) in enumerate(aggregates)]
    joined = source[0]
    if any("cu." in text for text in [*select, *(c for c, _ in where)]):
        joined += f" JOIN core_customer cu ON cu.id = {customer}"
    sql = f"SELECT {', '.join(select)} FROM {joined} WHERE " + " AND ".join(
        f"({c})" for c, _ in where
    )
    if aliases:
        order = aliases[1:] + aliases[:1] if by_currency else aliases
        sql += f" GROUP BY {', '.join(aliases)} ORDER BY {', '.join(order)}"
    params = [p for _, ps in aggregates for p in ps] + source[1]
    params += [p for _, ps in where for p in ps]
    out = []
    for r in await Installment.raw(sql, *params):
        group = {name: r[alias] for (name, _), alias in zip(cols, aliases, strict=True)}
        currency = group.pop("currency", None)
        sums = {name: int(r[f"v{n}"] or 0) for n, name in enumerate(values)}
        out.append(GroupRow(group, currency, sums))
    return out


@dataclass(frozen=True)
class Late:
    """What was applied to each installment *after* a date (allocations by date applied,
    credit notes and write-offs by date issued): ``join`` is a ``LEFT JOIN`` giving it as
    ``late.amount`` and ``amount`` the SQL of it per installment. The stored
    ``paid_minor``/``credited_minor`` minus this are the amounts as of the date. Usually
    nothing is dated after the date asked for (today): then there is no join at all."""

    join: Fragment = ("", [])
    amount: str = "0"

    @property
    def open(self) -> str:
        """Open amount of installment ``i`` as of the date."""
        now = "i.amount_minor - i.paid_minor - i.credited_minor"
        return f"{now} + {self.amount}" if self.join[0] else now

    @property
    def was_open(self) -> str:
        """Whether ``i`` was open as of the date (cheap: integer columns first)."""
        if not self.join[0]:
            return "i.paid_minor + i.credited_minor < i.amount_minor"
        return "i.paid_minor + i.credited_minor < i.amount_minor OR late.amount IS NOT NULL"


async def _late(as_of: date, credits: bool = True) -> Late:
    """:class:`Late` after ``as_of``; only the rows dated after it are read (indexes on
    ``applied_on``/``issued_on``), never every allocation and credit."""
    parts = ["SELECT installment, amount_minor FROM contracts_allocation WHERE applied_on > {}"]
    if credits:
        parts.append(
            "SELECT installment, amount_minor FROM contracts_credit "
            "WHERE installment IS NOT NULL AND issued_on > {}"
        )
    union, params = " UNION ALL ".join(parts), [sql_date(as_of)] * len(parts)
    if not await Installment.raw(f"SELECT 1 AS found FROM ({union}) x LIMIT 1", *params):
        return Late()
    join = (
        "LEFT JOIN (SELECT installment, CAST(SUM(amount_minor) AS BIGINT) AS amount FROM "
        f"({union}) x GROUP BY installment) late ON late.installment = i.id"
    )
    return Late((join, params), "COALESCE(late.amount, 0)")
