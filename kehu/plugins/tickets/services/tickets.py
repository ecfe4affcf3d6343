"""Tickets: creation from any channel, threaded messages, the status workflow (every change
stored), assignment (by hand, round-robin or least-open), complaints and merging."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import Conflict, FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor
from kehu.core.services.common import check_choice, raise_if
from kehu.core.services.customers import get_customer
from kehu.core.tables import Contact, Team, User
from kehu.core.validation import require_text
from kehu.plugins.tickets.services.common import at, config, get_ticket, visible
from kehu.plugins.tickets.services.slas import store_outcomes
from kehu.plugins.tickets.tables import (
    OPEN_STATUSES,
    AssignmentState,
    Channel,
    Phase,
    Priority,
    Status,
    Ticket,
    TicketMessage,
    TicketStatusChange,
    TicketType,
)

S = Status
TRANSITIONS: dict[str, set[str]] = {
    S.new: {S.open, S.pending_customer, S.resolved},
    S.open: {S.pending_customer, S.resolved},
    S.pending_customer: {S.open, S.resolved},
    S.resolved: {S.closed, S.open},
    S.closed: {S.open},
}
AGENT_ROLES = ("support", "sales", "manager", "admin")


class IllegalTransition(ValidationFailed):
    """A status move the workflow does not allow (code ``ILLEGAL_TRANSITION``)."""

    def __init__(self, current: str, target: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        super().__init__(
            FieldError(
                "status",
                f"Cannot move a ticket from {current} to {target} (allowed: {allowed})",
                "ILLEGAL_TRANSITION",
            )
        )


class ComplaintIncomplete(ValidationFailed):
    """A complaint resolved or closed without root cause and corrective action."""


# -- reading ------------------------------------------------------------------------------


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


# -- creating -----------------------------------------------------------------------------


def _check_category(value: Any, errors: list[FieldError]) -> str | None:
    if value in (None, ""):
        return None
    categories = config().complaint_categories
    if value not in categories:
        errors.append(
            FieldError(
                "complaintCategory",
                f"complaintCategory must be one of {', '.join(categories)}",
                "INVALID_CHOICE",
            )
        )
    return value


async def _store_change(
    ticket_id: int, old: str | None, new: str, actor: Actor, when: datetime
) -> None:
    await TicketStatusChange.insert(
        TicketStatusChange(
            ticket=ticket_id, from_status=old, to_status=new, actor=actor.user_id, at=when
        )
    )


async def create_ticket(
    actor: Actor, customer_id: int, data: dict[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Open a ticket for a visible customer. ``data``: subject, channel, phase, type,
    priority, contact, assignee, team, complaint_category, body (the customer's first message),
    contract_id. Without an assignee the team's auto-assignment strategy picks one."""
    actor.require("ticket:write")
    when = at(now)
    errors: list[FieldError] = []
    subject, err = require_text(data.get("subject"), "subject", 255)
    errors += [err] if err else []
    values: dict[str, Any] = {
        "channel": check_choice(data.get("channel", Channel.phone), Channel, "channel", errors),
        "phase": check_choice(data.get("phase", Phase.after_sale), Phase, "phase", errors),
        "type": check_choice(data.get("type", TicketType.inquiry), TicketType, "type", errors),
        "priority": check_choice(
            data.get("priority", Priority.normal), Priority, "priority", errors
        ),
        "complaint_category": _check_category(data.get("complaint_category"), errors),
        "contract_id": data.get("contract_id"),
    }
    if values["complaint_category"] and values["type"] != TicketType.complaint:
        errors.append(
            FieldError("complaintCategory", "Only complaints have a category", "NOT_A_COMPLAINT")
        )
    raise_if(errors)
    async with unit_of_work():
        customer = await get_customer(actor, customer_id)
        if customer["archived_at"] is not None:
            raise ValidationFailed("Archived customers cannot get tickets", field="customerId")
        if data.get("contact") is not None:
            contact = (
                await Contact.select(Contact.customer).where(Contact.id == data["contact"]).first()
            )
            if contact is None or contact["customer"] != customer_id:
                raise ValidationFailed(
                    FieldError("contactId", "Contact does not belong to this customer", "NOT_FOUND")
                )
        team = data.get("team") or customer["team"] or actor.team_id
        assignee = data.get("assignee")
        if assignee is not None:
            if data.get("assignee") != actor.user_id:
                actor.require("ticket:assign")
            user = await _agent(assignee)
            team = data.get("team") or user["team"] or team
        elif team is not None:
            assignee = await pick_assignee(team)
        if team is not None and not await Team.exists().where(Team.id == team):
            raise ValidationFailed(FieldError("teamId", "Unknown team", "NOT_FOUND"))
        row = (
            await Ticket.insert(
                Ticket(
                    number=uuid.uuid4().hex[:20],
                    customer=customer_id,
                    contact=data.get("contact"),
                    subject=subject,
                    assignee=assignee,
                    team=team,
                    created_by=actor.user_id,
                    status=Status.new.value,
                    created_at=when,
                    updated_at=when,
                    **values,
                )
            ).returning(Ticket.id)
        )[0]
        ticket_id = row["id"]
        await Ticket.update({Ticket.number: f"T{ticket_id:06d}"}).where(Ticket.id == ticket_id)
        await _store_change(ticket_id, None, Status.new.value, actor, when)
        if (data.get("body") or "").strip():
            await TicketMessage.insert(
                TicketMessage(
                    ticket=ticket_id,
                    author=None,
                    from_customer=True,
                    body=data["body"].strip(),
                    created_at=when,
                )
            )
        ticket = await Ticket.select().where(Ticket.id == ticket_id).first()
        await record(actor, "created", "ticket", ticket_id, after=ticket)
    return ticket


# -- assignment ---------------------------------------------------------------------------


async def _agent(user_id: int) -> dict[str, Any]:
    user = await User.select().where(User.id == user_id).first()
    if user is None or not user["active"] or user["role"] not in AGENT_ROLES:
        raise ValidationFailed(
            FieldError(
                "assigneeId",
                "Assignee must be an active support, sales or manager user",
                "NOT_FOUND",
            )
        )
    return user


def strategy_for(team_name: str) -> str:
    settings = config()
    return settings.assignment.get(team_name, settings.default_assignment)


async def pick_assignee(team_id: int, exclude: int | None = None) -> int | None:
    """The next agent of a team by its strategy (``round_robin`` or ``least_open``; ``manual``
    picks nobody). Candidates: the team's active support agents, else its sales reps."""
    team = await Team.select(Team.name).where(Team.id == team_id).first()
    if team is None:
        return None
    strategy = strategy_for(team["name"])
    if strategy == "manual":
        return None
    users = (
        await User.select(User.id, User.role)
        .where(User.team == team_id, User.active.eq(True), User.role.is_in(["support", "sales"]))
        .order_by(User.id)
    )
    candidates = [u["id"] for u in users if u["role"] == "support"] or [u["id"] for u in users]
    candidates = [c for c in candidates if c != exclude]
    if not candidates:
        return None
    if strategy == "round_robin":
        # the team's position row, created if missing and locked until the transaction ends
        # (SQLite: BEGIN IMMEDIATE already serialises writers; PostgreSQL: FOR UPDATE)
        await AssignmentState.raw(
            "INSERT INTO tickets_assignment_state (team) VALUES ({}) ON CONFLICT (team) DO NOTHING",
            team_id,
        )
        query = AssignmentState.select().where(AssignmentState.team == team_id)
        if not is_sqlite(current_engine()):
            query = query.lock_rows()
        state = await query.first()
        last = state["last_user"]
        chosen = next((c for c in candidates if last is None or c > last), candidates[0])
        await AssignmentState.update({AssignmentState.last_user: chosen}).where(
            AssignmentState.id == state["id"]
        )
        return chosen
    rows = (
        await Ticket.select(Ticket.assignee, Count(alias="n"))
        .where(Ticket.assignee.is_in(candidates), Ticket.status.is_in(list(OPEN_STATUSES)))
        .group_by(Ticket.assignee)
    )
    load = {r["assignee"]: r["n"] for r in rows}
    return min(candidates, key=lambda c: (load.get(c, 0), c))


async def _locked(actor: Actor, ticket_id: int, expected_version: int | None) -> dict[str, Any]:
    ticket = await get_ticket(actor, ticket_id)
    if expected_version is not None and ticket["version"] != expected_version:
        raise Conflict(
            f"Ticket {ticket_id} was changed by someone else (expected version "
            f"{expected_version}); reload and retry"
        )
    return ticket


async def _save(ticket_id: int, values: dict[str, Any], when: datetime) -> dict[str, Any]:
    rows = (
        await Ticket.update({**values, Ticket.version: Ticket.version + 1, Ticket.updated_at: when})
        .where(Ticket.id == ticket_id)
        .returning(*Ticket.all_columns())
    )
    return rows[0]


async def _with_outcome(ticket: dict[str, Any], when: datetime) -> dict[str, Any]:
    """``ticket`` with its SLA outcome evaluated at ``when`` and stored: called on every
    change that can decide it (first reply, status change, merge, priority)."""

    return (await store_outcomes([ticket], when))[0]


async def assign_ticket(
    actor: Actor,
    ticket_id: int,
    assignee_id: int | None = None,
    *,
    auto: bool = False,
    team_id: int | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Assign by hand (``ticket:assign``; taking a ticket yourself needs ``ticket:write``) or
    automatically within the ticket's (or ``team_id``'s) team."""
    actor.require("ticket:write")
    if not (auto or assignee_id == actor.user_id):
        actor.require("ticket:assign")
    when = at(now)
    async with unit_of_work():
        before = await _locked(actor, ticket_id, expected_version)
        team = team_id or before["team"]
        if auto:
            if team is None:
                raise ValidationFailed("The ticket has no team to assign within", field="teamId")
            assignee_id = await pick_assignee(team)
            if assignee_id is None:
                raise ValidationFailed(
                    FieldError("teamId", "Nobody in the team can take the ticket", "NO_AGENT")
                )
        elif assignee_id is not None:
            user = await _agent(assignee_id)
            team = team_id or user["team"] or team
        after = await _save(ticket_id, {Ticket.assignee: assignee_id, Ticket.team: team}, when)
        await record(
            actor,
            "assigned",
            "ticket",
            ticket_id,
            {"assignee": before["assignee"], "team": before["team"]},
            {"assignee": assignee_id, "team": team, "customer": after["customer"]},
        )
    return after


# -- messages and status ------------------------------------------------------------------


async def add_message(
    actor: Actor,
    ticket_id: int,
    body: str,
    *,
    internal: bool = False,
    from_customer: bool = False,
    now: datetime | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Add a public reply, an internal note or a message received from the customer.
    The first public agent reply sets ``first_responded_at`` (and opens a new ticket); a
    customer message moves a ticket waiting for the customer (or resolved) back to open."""
    actor.require("ticket:write")
    text, err = require_text(body, "body", 20000)
    raise_if([err] if err else [])
    if internal and from_customer:
        raise ValidationFailed("A customer message cannot be an internal note", field="internal")
    when = at(now)
    async with unit_of_work():
        ticket = await get_ticket(actor, ticket_id)
        if ticket["status"] == Status.closed or ticket["merged_into"] is not None:
            raise ValidationFailed(
                FieldError("ticketId", "Closed tickets take no messages; reopen first", "CLOSED")
            )
        message = (
            await TicketMessage.insert(
                TicketMessage(
                    ticket=ticket_id,
                    author=None if from_customer else actor.user_id,
                    from_customer=from_customer,
                    internal=internal,
                    body=text,
                    created_at=when,
                )
            ).returning(*TicketMessage.all_columns())
        )[0]
        values: dict[Any, Any] = {}
        status = ticket["status"]
        if not internal and not from_customer:
            if ticket["first_responded_at"] is None:
                values[Ticket.first_responded_at] = when
            if status == Status.new:
                values[Ticket.status] = Status.open.value
        elif from_customer and status in (Status.pending_customer, Status.resolved):
            values[Ticket.status] = Status.open.value
            values[Ticket.resolved_at] = None
        if Ticket.status in values:
            await _store_change(ticket_id, status, values[Ticket.status], actor, when)
        if values:
            ticket = await _with_outcome(await _save(ticket_id, values, when), when)
        await record(
            actor,
            "message_added",
            "ticket",
            ticket_id,
            after={
                "message_id": message["id"],
                "internal": internal,
                "from_customer": from_customer,
                "customer": ticket["customer"],
            },
        )
    return ticket, message


def _complaint_errors(ticket: dict[str, Any]) -> list[FieldError]:
    if ticket["type"] != TicketType.complaint:
        return []
    missing = [
        FieldError(
            name,
            f"A complaint needs {label} before it is resolved or closed",
            "COMPLAINT_INCOMPLETE",
        )
        for name, label, key in (
            ("complaintCategory", "a category", "complaint_category"),
            ("rootCause", "a root cause", "root_cause"),
            ("correctiveAction", "a corrective action", "corrective_action"),
        )
        if not (ticket[key] or "").strip()
    ]
    return missing


async def change_status(
    actor: Actor,
    ticket_id: int,
    status: str,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Move a ticket along the workflow (``new → open → pending_customer → resolved →
    closed``; ``resolved``/``closed`` → ``open`` reopens). Illegal moves raise
    ``IllegalTransition``; complaints need category, root cause and corrective action to be
    resolved or closed. Closing creates the satisfaction surveys of the settings."""
    actor.require("ticket:write")
    errors: list[FieldError] = []
    status = check_choice(status, Status, "status", errors)
    raise_if(errors)
    when = at(now)
    async with unit_of_work():
        ticket = await _locked(actor, ticket_id, expected_version)
        current_status = ticket["status"]
        if ticket["merged_into"] is not None or status not in TRANSITIONS[current_status]:
            raise IllegalTransition(current_status, status)
        if status in (Status.resolved, Status.closed):
            missing = _complaint_errors(ticket)
            if missing:
                raise ComplaintIncomplete(missing)
        values: dict[Any, Any] = {Ticket.status: status}
        if status == Status.resolved:
            values[Ticket.resolved_at] = when
        elif status == Status.closed:
            values[Ticket.closed_at] = when
        elif status == Status.open and current_status in (Status.resolved, Status.closed):
            values.update({Ticket.resolved_at: None, Ticket.closed_at: None})
        await _store_change(ticket_id, current_status, status, actor, when)
        after = await _with_outcome(await _save(ticket_id, values, when), when)
        reopened = status == Status.open and current_status in (Status.resolved, Status.closed)
        action = "reopened" if reopened else "status_changed"
        await record(
            actor,
            action,
            "ticket",
            ticket_id,
            {"status": current_status},
            {"status": status, "customer": after["customer"]},
        )
        if status == Status.closed:
            from kehu.plugins.tickets.services import surveys

            for kind in config().survey_on_close:
                await surveys.create_survey(
                    actor,
                    after["customer"],
                    kind,
                    ticket_id=ticket_id,
                    now=when,
                    check_visibility=False,
                )
    return after


async def reopen_ticket(actor: Actor, ticket_id: int, *, now: datetime | None = None) -> dict:
    """Reopen a resolved or closed ticket (its resolution clock runs again)."""
    return await change_status(actor, ticket_id, Status.open.value, now=now)


async def update_complaint(
    actor: Actor,
    ticket_id: int,
    data: dict[str, Any],
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Set a complaint's category, root cause and corrective action."""
    actor.require("ticket:write")
    errors: list[FieldError] = []
    values: dict[Any, Any] = {}
    if "complaint_category" in data:
        values[Ticket.complaint_category] = _check_category(data["complaint_category"], errors)
    for key, column in (
        ("root_cause", Ticket.root_cause),
        ("corrective_action", Ticket.corrective_action),
    ):
        if key in data:
            values[column] = (data[key] or "").strip()
    raise_if(errors)
    when = at(now)
    async with unit_of_work():
        before = await _locked(actor, ticket_id, expected_version)
        if before["type"] != TicketType.complaint:
            raise ValidationFailed(
                FieldError(
                    "id", "Only complaints have root cause and corrective action", "NOT_A_COMPLAINT"
                )
            )
        after = await _save(ticket_id, values, when)
        await record(
            actor,
            "complaint_updated",
            "ticket",
            ticket_id,
            after={k._meta.name: v for k, v in values.items()} | {"customer": after["customer"]},
        )
    return after


async def update_ticket(
    actor: Actor,
    ticket_id: int,
    data: dict[str, Any],
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Change subject, priority, phase, type or channel (a priority change re-targets the SLA
    clocks: they are computed, never stored; the stored outcome is re-evaluated)."""
    actor.require("ticket:write")
    errors: list[FieldError] = []
    values: dict[Any, Any] = {}
    if "subject" in data:
        values[Ticket.subject], err = require_text(data["subject"], "subject", 255)
        errors += [err] if err else []
    for key, enum, column in (
        ("priority", Priority, Ticket.priority),
        ("phase", Phase, Ticket.phase),
        ("type", TicketType, Ticket.type),
        ("channel", Channel, Ticket.channel),
    ):
        if key in data:
            values[column] = check_choice(data[key], enum, key, errors)
    raise_if(errors)
    when = at(now)
    async with unit_of_work():
        before = await _locked(actor, ticket_id, expected_version)
        after = await _save(ticket_id, values, when)
        if Ticket.priority in values:  # other targets: other outcome
            after = await _with_outcome(after, when)
        changed = {k._meta.name: v for k, v in values.items() if before[k._meta.name] != v}
        await record(
            actor,
            "updated",
            "ticket",
            ticket_id,
            {k: before[k] for k in changed},
            changed | {"customer": after["customer"]},
        )
    return after


async def merge_tickets(
    actor: Actor, survivor_id: int, duplicate_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """Merge a duplicate into ``survivor_id`` (same customer): its messages move over and it
    is closed with ``merged_into`` set."""
    actor.require("ticket:write")
    if survivor_id == duplicate_id:
        raise ValidationFailed("Cannot merge a ticket into itself", field="duplicateId")
    when = at(now)
    async with unit_of_work():
        survivor = await get_ticket(actor, survivor_id)
        duplicate = await get_ticket(actor, duplicate_id)
        if survivor["customer"] != duplicate["customer"]:
            raise ValidationFailed(
                FieldError(
                    "duplicateId",
                    "Only tickets of the same customer can be merged",
                    "OTHER_CUSTOMER",
                )
            )
        for row, field in ((survivor, "survivorId"), (duplicate, "duplicateId")):
            if row["merged_into"] is not None or row["status"] == Status.closed:
                raise ValidationFailed(FieldError(field, f"Ticket {row['id']} is closed", "CLOSED"))
        moved = (
            await TicketMessage.update({TicketMessage.ticket: survivor_id})
            .where(TicketMessage.ticket == duplicate_id)
            .returning(TicketMessage.id)
        )
        await _store_change(duplicate_id, duplicate["status"], Status.closed.value, actor, when)
        await _with_outcome(
            await _save(
                duplicate_id,
                {
                    Ticket.status: Status.closed.value,
                    Ticket.closed_at: when,
                    Ticket.merged_into: survivor_id,
                },
                when,
            ),
            when,
        )
        values: dict[Any, Any] = {}
        if survivor["first_responded_at"] is None and duplicate["first_responded_at"]:
            values[Ticket.first_responded_at] = duplicate["first_responded_at"]
        after = await _with_outcome(await _save(survivor_id, values, when), when)
        await record(
            actor,
            "merged",
            "ticket",
            survivor_id,
            after={
                "duplicate_id": duplicate_id,
                "messages": [r["id"] for r in moved],
                "customer": survivor["customer"],
            },
        )
        await record(
            actor,
            "merged_into",
            "ticket",
            duplicate_id,
            after={"merged_into": survivor_id, "customer": survivor["customer"]},
        )
    return after
