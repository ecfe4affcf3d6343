"""What the ticket services share: the status alias, agent roles, the typed rule errors, and
locking, saving and SLA-outcome refresh of one ticket row."""

from datetime import datetime
from typing import Any

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.permissions import Actor
from kehu.core.services.records import stale
from kehu.plugins.tickets.services.common import config, get_ticket
from kehu.plugins.tickets.services.slas import store_outcomes
from kehu.plugins.tickets.tables import Status, Ticket, TicketStatusChange

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


async def _locked(actor: Actor, ticket_id: int, expected_version: int | None) -> dict[str, Any]:
    ticket = await get_ticket(actor, ticket_id)
    if expected_version is not None and ticket["version"] != expected_version:
        raise stale("ticket", ticket_id, expected_version)
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
