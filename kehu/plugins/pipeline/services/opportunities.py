"""Reading opportunities (visibility applied): one, by ids, filtered and paged, per customer,
open value per customer, the last stage change, stage history, child rows (team, line items,
needs) and time in stages."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from piccolo.query.functions.aggregate import Max, Sum

from kehu.core.context import current
from kehu.core.db import text_search
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.money import Money
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import OPEN, _aware, _int, _visible


async def get_opportunity(actor: Actor, opportunity_id: int) -> dict[str, Any]:
    actor.require("opportunity:read")
    row = await _visible(
        t.Opportunity.select().where(t.Opportunity.id == opportunity_id), actor
    ).first()
    if row is None:
        raise NotFound(f"Opportunity {opportunity_id} not found")
    return row


async def opportunities_by_ids(actor: Actor, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids or not actor.can("opportunity:read"):
        return {}
    rows = await _visible(
        t.Opportunity.select().where(t.Opportunity.id.is_in(list(set(ids)))), actor
    )
    return {r["id"]: r for r in rows}


@dataclass
class OpportunityFilter:
    customer_id: int | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None
    status: str | None = None
    forecast_category: str | None = None
    close_after: date | None = None
    close_before: date | None = None
    search: str | None = None


ORDER_COLUMNS = {
    "CREATED_AT": t.Opportunity.created_at,
    "UPDATED_AT": t.Opportunity.updated_at,
    "AMOUNT": t.Opportunity.amount_minor,
    "KANBAN": t.Opportunity.kanban_position,
    "NAME": t.Opportunity.name,
}


def _filtered(query: Any, actor: Actor, f: OpportunityFilter) -> Any:
    query = _visible(query, actor)
    o = t.Opportunity
    for column, value in (
        (o.customer, f.customer_id),
        (o.pipeline, f.pipeline_id),
        (o.stage, f.stage_id),
        (o.owner, f.owner_id),
        (o.team, f.team_id),
        (o.status, f.status),
        (o.forecast_category, f.forecast_category),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.close_after is not None:
        query = query.where(o.expected_close_date >= f.close_after)
    if f.close_before is not None:
        query = query.where(o.expected_close_date < f.close_before)
    if f.search and f.search.strip():
        query = query.where(text_search(f.search, [o.name, o.description]))
    return query


async def list_opportunities(
    actor: Actor,
    f: OpportunityFilter | None = None,
    *,
    order_by: str = "CREATED_AT",
    descending: bool = True,
    first: int = 20,
    after: str | None = None,
) -> Page:
    actor.require("opportunity:read")
    sort = ORDER_COLUMNS.get(order_by)
    if sort is None:
        raise ValidationFailed(f"Unknown order {order_by!r}", field="orderBy")
    return await keyset_page(
        _filtered(t.Opportunity.select(), actor, f or OpportunityFilter()),
        sort=sort,
        pk=t.Opportunity.id,
        descending=descending,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )


async def count_opportunities(actor: Actor, f: OpportunityFilter | None = None) -> int:
    actor.require("opportunity:read")
    return await _filtered(t.Opportunity.count(), actor, f or OpportunityFilter())


async def opportunities_by_customer(
    actor: Actor, customer_ids: list[int], status: str | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Visible opportunities of each customer (newest first), one query."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in customer_ids}
    if not customer_ids or not actor.can("opportunity:read"):
        return out
    query = _visible(
        t.Opportunity.select().where(t.Opportunity.customer.is_in(list(set(customer_ids)))),
        actor,
    )
    if status is not None:
        query = query.where(t.Opportunity.status == status)
    for row in await query.order_by(t.Opportunity.created_at, t.Opportunity.id, ascending=False):
        out[row["customer"]].append(row)
    return out


async def open_value_by_customer(actor: Actor, customer_ids: list[int]) -> dict[int, list[Money]]:
    """Sum of visible open opportunity amounts per customer and currency (SQL aggregate)."""
    out: dict[int, list[Money]] = {i: [] for i in customer_ids}
    if not customer_ids or not actor.can("opportunity:read"):
        return out
    o = t.Opportunity
    query = _visible(
        o.select(o.customer, o.currency, Sum(o.amount_minor, alias="total")).where(
            o.customer.is_in(list(set(customer_ids))), o.status == OPEN
        ),
        actor,
    )
    rows = await query.group_by(o.customer, o.currency).order_by(o.customer, o.currency)
    for r in rows:
        out[r["customer"]].append(Money(_int(r["total"]), r["currency"]))
    return out


async def last_changes(opportunity_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The latest stage-history row of each opportunity, one query."""
    if not opportunity_ids:
        return {}
    h = t.StageChange
    latest = (
        h.select(Max(h.id))
        .where(h.opportunity.is_in(list(set(opportunity_ids))))
        .group_by(h.opportunity)
    )
    rows = await h.select().where(h.id.is_in(latest))
    return {r["opportunity"]: r for r in rows}


async def history(opportunity_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in opportunity_ids}
    if opportunity_ids:
        h = t.StageChange
        rows = (
            await h.select()
            .where(h.opportunity.is_in(list(set(opportunity_ids))))
            .order_by(h.at, h.id)
        )
        for r in rows:
            out[r["opportunity"]].append(r)
    return out


def _children_loader(table: Any, order: Any) -> Any:
    async def load(opportunity_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in opportunity_ids}
        if opportunity_ids:
            rows = (
                await table.select()
                .where(table.opportunity.is_in(list(set(opportunity_ids))))
                .order_by(order, table.id)
            )
            for r in rows:
                out[r["opportunity"]].append(r)
        return out

    return load


team_members_of = _children_loader(t.TeamMember, t.TeamMember.created_at)

line_items_of = _children_loader(t.LineItem, t.LineItem.position)

needs_of = _children_loader(t.Need, t.Need.created_at)


def time_in_stages(rows: list[dict[str, Any]], at: datetime | None = None) -> list[tuple[int, int]]:
    """``[(stage_id, seconds)]`` in first-entered order, from an opportunity's history rows;
    the current stage counts until ``at`` (default now) while the opportunity is open."""
    at = at or now()
    totals: dict[int, int] = {}
    for row in rows:
        if row["seconds"] is not None:
            seconds = row["seconds"]
        elif row["kind"] in (t.HistoryKind.won.value, t.HistoryKind.lost.value):
            seconds = 0  # a closed deal stops the clock
        else:
            seconds = max(0, int((_aware(at) - _aware(row["at"])).total_seconds()))
        totals[row["to_stage"]] = totals.get(row["to_stage"], 0) + seconds
    return list(totals.items())


def cycle_seconds(row: dict[str, Any], at: datetime | None = None) -> int:
    """Created → closed (or → now while open)."""
    if row["cycle_seconds"] is not None:
        return row["cycle_seconds"]
    return max(0, int((_aware(at or now()) - _aware(row["created_at"])).total_seconds()))
