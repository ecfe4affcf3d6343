"""The ticket aggregate: create, assign, update, merge — and, re-exported, reading, routing
and handling, so ``tickets.<function>`` reaches all of it."""

import uuid
from datetime import datetime
from typing import Any

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import check_choice, raise_if
from kehu.core.services.customers import get_customer
from kehu.core.tables import Contact, Team
from kehu.core.validation import require_text
from kehu.plugins.tickets.services.common import at, get_ticket
from kehu.plugins.tickets.services.handling import (
    add_message,
    change_status,
    reopen_ticket,
    update_complaint,
)
from kehu.plugins.tickets.services.queries import (
    TicketFilter,
    count_tickets,
    list_tickets,
    messages_of,
    open_counts,
    tickets_of_customers,
)
from kehu.plugins.tickets.services.records import (
    AGENT_ROLES,
    TRANSITIONS,
    ComplaintIncomplete,
    IllegalTransition,
    S,
    _check_category,
    _locked,
    _save,
    _store_change,
    _with_outcome,
)
from kehu.plugins.tickets.services.routing import _agent, pick_assignee, strategy_for
from kehu.plugins.tickets.tables import (
    Channel,
    Phase,
    Priority,
    Status,
    Ticket,
    TicketMessage,
    TicketType,
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


__all__ = [
    "AGENT_ROLES",
    "TRANSITIONS",
    "ComplaintIncomplete",
    "IllegalTransition",
    "S",
    "TicketFilter",
    "add_message",
    "assign_ticket",
    "change_status",
    "count_tickets",
    "create_ticket",
    "list_tickets",
    "merge_tickets",
    "messages_of",
    "open_counts",
    "pick_assignee",
    "reopen_ticket",
    "strategy_for",
    "tickets_of_customers",
    "update_complaint",
    "update_ticket",
]
