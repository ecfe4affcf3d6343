"""Handling a ticket: messages, status changes (with the complaint rules), reopening and the
complaint record."""

from datetime import datetime
from typing import Any

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import check_choice, raise_if
from kehu.core.validation import require_text
from kehu.plugins.tickets.services.common import at, config, get_ticket
from kehu.plugins.tickets.services.records import (
    TRANSITIONS,
    ComplaintIncomplete,
    IllegalTransition,
    _check_category,
    _locked,
    _save,
    _store_change,
    _with_outcome,
)
from kehu.plugins.tickets.tables import Status, Ticket, TicketMessage, TicketType


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
