"""Won deals, conversion and opportunity teams from the pipeline plugin."""

from collections import defaultdict
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from piccolo.query.functions.aggregate import Count, Sum
from piccolo.querystring import QueryString

from kehu.plugins.incentives.services.periods import Period, bounds
from kehu.plugins.incentives.services.values import Source, Value, participants
from kehu.plugins.pipeline.tables import LineItem, Stage, TeamMember
from kehu.plugins.pipeline.tables import Opportunity as O


async def teams(opportunity_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """``{opportunity id: [(user id, role)]}`` in the order members joined."""
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if opportunity_ids:
        rows = (
            await TeamMember.select(TeamMember.opportunity, TeamMember.user, TeamMember.role)
            .where(TeamMember.opportunity.is_in(opportunity_ids))
            .order_by(TeamMember.id)
        )
        for r in rows:
            out[r["opportunity"]].append((r["user"], r["role"]))
    return out


async def won_sources(period: Period) -> list[Source]:
    """Won opportunities by ``closed_at`` (a reopened deal simply stops being a source)."""
    lo, hi = bounds(period)
    rows = (
        await O.select(O.id, O.name, O.amount_minor, O.currency, O.owner, O.team, O.closed_at)
        .where(O.status == "won", O.closed_at >= lo, O.closed_at < hi)
        .order_by(O.id)
    )
    members = await teams([r["id"] for r in rows])
    return [
        Source(
            f"won:{r['id']}",
            "won",
            r["closed_at"].date(),
            r["amount_minor"],
            r["currency"],
            f"won opportunity #{r['id']} {r['name']!r}",
            r["owner"],
            r["team"],
            participants(r["owner"], members[r["id"]]),
        )
        for r in rows
    ]


def _group(group: str) -> Any:
    return {"user": O.owner, "team": O.team}.get(group)


async def won_revenue(period: Period, group: str, currency: str) -> dict[Any, Value]:
    lo, hi = bounds(period)
    col = _group(group)
    cols = [col] if col is not None else []
    q = O.select(*cols, O.currency, Sum(O.amount_minor, alias="s")).where(
        O.status == "won", O.closed_at >= lo, O.closed_at < hi, O.currency == currency
    )
    rows = await q.group_by(*cols, O.currency)
    return {
        (r[col._meta.name] if col is not None else 0): Value(Decimal(int(r["s"] or 0)), currency)
        for r in rows
    }


async def conversion_rate(period: Period, group: str) -> dict[Any, Value]:
    """Won ÷ closed deals of the period."""
    lo, hi = bounds(period)
    col = _group(group)
    cols = [col] if col is not None else []
    rows = (
        await O.select(*cols, O.status, Count(alias="n"))
        .where(O.status.is_in(["won", "lost"]), O.closed_at >= lo, O.closed_at < hi)
        .group_by(*cols, O.status)
    )
    won: dict[Any, int] = defaultdict(int)
    closed: dict[Any, int] = defaultdict(int)
    for r in rows:
        k = r[col._meta.name] if col is not None else 0
        closed[k] += r["n"]
        if r["status"] == "won":
            won[k] += r["n"]
    return {k: Value(Decimal(won[k]) / Decimal(n)) for k, n in closed.items() if n}


async def won_revenue_of(period: Period, scope: str, value: str, currency: str) -> Value:
    """Won revenue of one region (customer region), channel (opportunity source) or product
    (opportunity line items)."""
    lo, hi = bounds(period)
    if scope == "product":
        line = QueryString(
            '"pipeline_line_item"."quantity" * "pipeline_line_item"."unit_price_minor"'
        )
        rows = await LineItem.select(Sum(line, alias="s"), Count(alias="n")).where(
            LineItem.product == value,
            LineItem.opportunity.status == "won",
            LineItem.opportunity.closed_at >= lo,
            LineItem.opportunity.closed_at < hi,
            LineItem.currency == currency,
        )
        found = rows[0]["n"] > 0
        return Value(Decimal(int(rows[0]["s"] or 0)), currency if found else "")
    col = O.customer.region if scope == "region" else O.source
    rows = (
        await O.select(O.currency, Sum(O.amount_minor, alias="s"))
        .where(
            col == value,
            O.currency == currency,
            O.status == "won",
            O.closed_at >= lo,
            O.closed_at < hi,
        )
        .group_by(O.currency)
    )
    return (
        Value(Decimal(int(rows[0]["s"] or 0)), rows[0]["currency"]) if rows else Value(Decimal(0))
    )


async def won_day(opportunity_id: int) -> date | None:
    """The UTC day the deal was won (its ``closed_at``), ``None`` if it is not closed."""
    row = await O.select(O.closed_at).where(O.id == opportunity_id).first()
    closed = row["closed_at"] if row else None
    return closed.astimezone(UTC).date() if closed else None


async def left_won_stage(opportunity_id: int, from_stage: str) -> bool:
    """Whether an open deal was just moved out of its pipeline's won stage (reopened)."""
    row = await O.select(O.status, O.pipeline).where(O.id == opportunity_id).first()
    if row is None or row["status"] != "open":
        return False
    return await Stage.exists().where(
        Stage.pipeline == row["pipeline"], Stage.name == from_stage, Stage.is_won.eq(True)
    )
