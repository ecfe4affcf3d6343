"""Settings, the business calendar and ticket visibility shared by the services."""

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from kehu.core.context import current
from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import NotFound
from kehu.core.permissions import Actor, owner_team_scope
from kehu.core.services.common import now as _now
from kehu.core.services.customers import customer_scope
from kehu.core.tables import Customer
from kehu.plugins.tickets.services.clocks import BusinessCalendar
from kehu.plugins.tickets.settings import CalendarSettings, TicketsSettings
from kehu.plugins.tickets.tables import Ticket, TicketStatusChange

PLUGIN = "tickets"


def config() -> TicketsSettings:
    return current().plugin_settings(PLUGIN)


@lru_cache(maxsize=8)
def _calendar(frozen: str) -> BusinessCalendar:
    c = CalendarSettings.model_validate_json(frozen)
    return BusinessCalendar.from_config(c.timezone, c.weekly, c.holidays, c.workdays)


def calendar(policy: str | None = None) -> BusinessCalendar:
    """The business calendar of ``policy`` (``policy_calendars``) or the default one
    (``[plugin_settings.tickets.calendar]``)."""
    settings = config()
    chosen = settings.policy_calendars.get(policy or "", settings.calendar)
    return _calendar(chosen.model_dump_json())


def at(value: datetime | None) -> datetime:
    """``value`` (in UTC) or the current time: services take ``now`` so tests can freeze the
    clock. Stored timestamps are UTC (SQLite compares them as text)."""
    if value is None:
        return _now()
    if value.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    return value.astimezone(UTC)


def seconds_sql(start: str, end: str) -> str:
    """SQL for the whole seconds from timestamp ``start`` to ``end`` (an integer on SQLite and
    PostgreSQL): aggregate it for durations."""
    if is_sqlite(current_engine()):
        return f"(CAST(strftime('%s', {end}) AS INTEGER) - CAST(strftime('%s', {start}) AS INT))"
    return f"FLOOR(EXTRACT(EPOCH FROM ({end} - {start})))"


def ticket_scope(actor: Actor) -> Any:
    """Where-clause of the tickets ``actor`` may see (``None`` = all).

    The rule: admins and finance (visibility ``all``) see every ticket; everyone else sees the
    tickets assigned to them, the tickets of their team when their visibility is ``team``
    (support agents and managers by default), and the tickets of every customer they may see.
    """
    scope = owner_team_scope(actor, Ticket.assignee, Ticket.team)
    if scope is None:
        return None
    customers = customer_scope(actor)
    visible = Customer.select(Customer.id)
    if customers is not None:
        visible = visible.where(customers)
    return scope | Ticket.customer.is_in(visible)


def visible(query: Any, actor: Actor) -> Any:
    scope = ticket_scope(actor)
    return query if scope is None else query.where(scope)


async def get_ticket(actor: Actor, ticket_id: int) -> dict[str, Any]:
    """A ticket ``actor`` may see, or ``NotFound``."""
    actor.require("ticket:read")
    row = await visible(Ticket.select().where(Ticket.id == ticket_id), actor).first()
    if row is None:
        raise NotFound(f"Ticket {ticket_id} not found")
    return row


async def tickets_by_ids(actor: Actor, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids or not actor.can("ticket:read"):
        return {}
    rows = await visible(Ticket.select().where(Ticket.id.is_in(sorted(set(ids)))), actor)
    return {r["id"]: r for r in rows}


async def histories(ticket_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Status changes per ticket, oldest first, in one query."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ticket_ids}
    if not ticket_ids:
        return out
    rows = (
        await TicketStatusChange.select()
        .where(TicketStatusChange.ticket.is_in(sorted(set(ticket_ids))))
        .order_by(TicketStatusChange.at, TicketStatusChange.id)
    )
    for row in rows:
        out[row["ticket"]].append(row)
    return out
