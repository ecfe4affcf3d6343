"""Reading tickets (visibility applied): filtered lists and counts, per customer, open counts,
messages."""

from dataclasses import dataclass
from typing import Any

from piccolo.query.functions.aggregate import Count

from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor
from kehu.plugins.tickets.services.common import visible
from kehu.plugins.tickets.tables import OPEN_STATUSES, Ticket, TicketMessage


@dataclass
class TicketFilter:
    status: list[str] | None = None
    priority: str | None = None
    type: str | None = None
    customer_id: int | None = None
    assignee_id: int | None = None
    team_id: int | None = None
    open_only: bool = False
    complaint_category: str | None = None


def _filtered(actor: Actor, f: TicketFilter, query: Any) -> Any:
    query = visible(query, actor)
    if f.status:
        query = query.where(Ticket.status.is_in(f.status))
    if f.open_only:
        query = query.where(Ticket.status.is_in(list(OPEN_STATUSES)))
    for value, column in (
        (f.priority, Ticket.priority),
        (f.type, Ticket.type),
        (f.customer_id, Ticket.customer),
        (f.assignee_id, Ticket.assignee),
        (f.team_id, Ticket.team),
        (f.complaint_category, Ticket.complaint_category),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


async def list_tickets(
    actor: Actor, f: TicketFilter | None = None, *, first: int = 20, after: str | None = None
) -> Page:
    """Visible tickets, newest first (keyset pagination)."""
    actor.require("ticket:read")
    query = _filtered(actor, f or TicketFilter(), Ticket.select())
    return await keyset_page(
        query, sort=Ticket.created_at, pk=Ticket.id, descending=True, first=first, after=after
    )


async def count_tickets(actor: Actor, f: TicketFilter | None = None) -> int:
    actor.require("ticket:read")
    return await _filtered(actor, f or TicketFilter(), Ticket.count())


async def tickets_of_customers(
    actor: Actor, customer_ids: list[int], limit: int, open_only: bool = False
) -> dict[int, list[dict[str, Any]]]:
    """The newest ``limit`` visible tickets of each customer in two queries: the narrow
    (id, customer) list picks the page of each customer, then the rows are read."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in customer_ids}
    if not customer_ids or not actor.can("ticket:read"):
        return out
    query = visible(
        Ticket.select(Ticket.id, Ticket.customer).where(
            Ticket.customer.is_in(sorted(set(customer_ids)))
        ),
        actor,
    )
    if open_only:
        query = query.where(Ticket.status.is_in(list(OPEN_STATUSES)))
    picked: dict[int, list[int]] = {i: [] for i in customer_ids}
    for row in await query.order_by(Ticket.created_at, Ticket.id, ascending=False):
        if len(picked[row["customer"]]) < limit:
            picked[row["customer"]].append(row["id"])
    ids = [i for page in picked.values() for i in page]
    rows = {r["id"]: r for r in await Ticket.select().where(Ticket.id.is_in(ids))} if ids else {}
    return {c: [rows[i] for i in page] for c, page in picked.items()}


async def open_counts(actor: Actor, customer_ids: list[int]) -> dict[int, int]:
    """Open (new, open, pending customer) visible tickets per customer, one query."""
    out = dict.fromkeys(customer_ids, 0)
    if not customer_ids or not actor.can("ticket:read"):
        return out
    query = visible(
        Ticket.select(Ticket.customer, Count(alias="n")).where(
            Ticket.customer.is_in(sorted(set(customer_ids))),
            Ticket.status.is_in(list(OPEN_STATUSES)),
        ),
        actor,
    ).group_by(Ticket.customer)
    out.update({r["customer"]: r["n"] for r in await query})
    return out


async def messages_of(
    actor: Actor, ticket_ids: list[int], include_internal: bool | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Messages per ticket, oldest first (the caller checked the tickets' visibility).
    Internal notes are shown to actors with ``ticket:write`` only."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ticket_ids}
    if not ticket_ids:
        return out
    if include_internal is None:
        include_internal = actor.can("ticket:write")
    query = TicketMessage.select().where(TicketMessage.ticket.is_in(sorted(set(ticket_ids))))
    if not include_internal:
        query = query.where(TicketMessage.internal.eq(False))
    for row in await query.order_by(TicketMessage.created_at, TicketMessage.id):
        out[row["ticket"]].append(row)
    return out
