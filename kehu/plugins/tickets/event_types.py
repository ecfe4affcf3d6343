"""The events the tickets plugin emits (its part of the catalogue in ``docs/events.md``).

Receivers need ``ticket:read``. A ticket is visible to more people than its customer (its
assignee, and its team when their visibility is ``team``: ``services.common.ticket_scope``),
so ticket events and survey answers have their own ``visible`` rule; internal notes are only
announced to those who may read them (``ticket:write``). The survey invitation
(``ticket_survey.created``) carries the survey token, a capability to answer as the customer:
it goes to admins only (``event:admin``), i.e. to the integrations that mail it.
"""

from typing import Any

from kehu.core.event_types import EventType
from kehu.plugins.tickets.tables import SlaPolicy, Ticket

READ = "ticket:read"

TICKET_FIELDS = {
    "id": "ticket id",
    "number": "ticket number shown to people (T000042)",
    "customer": "id of the customer the ticket is for",
    "contact": "contact id of the person who asked, or null",
    "channel": "how it came in: phone, email, chat, self_service or visit",
    "phase": "pre_sale, in_sale, after_sale or care",
    "type": "inquiry, complaint, repair or request",
    "priority": "urgent, high, normal or low (chooses the SLA targets)",
    "status": "new, open, pending_customer, resolved or closed",
    "subject": "one-line subject",
    "assignee": "user id of the assignee, or null",
    "team": "team id handling the ticket, or null",
    "created_by": "user id of who opened it (null: the system)",
    "complaint_category": "complaint category (settings complaint_categories), or null",
    "root_cause": "a complaint's root cause (text)",
    "corrective_action": "a complaint's corrective action (text)",
    "contract_id": "the contracts plugin's contract id, or null",
    "first_responded_at": "time of the first public agent reply, or null",
    "resolved_at": "when it was resolved, or null",
    "closed_at": "when it was closed, or null",
    "merged_into": "id of the ticket it was merged into, or null",
    "first_response_breached": "first-response SLA outcome: true breached, false met, null open",
    "resolution_breached": "resolution SLA outcome: true breached, false met, null open",
    "version": "row version (optimistic locking)",
    "created_at": "when it was opened",
    "updated_at": "when it last changed",
}

SLA_STEP = {
    "target": "the SLA clock: first_response or resolution",
    "notified": "user ids who got a task (the assignee, or the team's managers)",
    "activities": "activity ids of the tasks created for them",
    "reassigned_to": "user id the ticket was reassigned to on breach, or null",
    "due_at": "when the target is (was) due, ISO 8601 UTC; null while the clock is paused",
}


def _ids(events: list[Any]) -> list[int]:
    return sorted({e.entity_id for e in events if isinstance(e.entity_id, int)})


async def visible_ticket_events(actor: Any, events: list[Any]) -> set[str]:
    """Events of the tickets ``actor`` may see (one query); ``message_added`` of an internal
    note only for actors who may read internal notes (``ticket:write``)."""
    from kehu.plugins.tickets.services.common import visible

    if not events or not actor.can(READ):
        return set()
    ids = _ids(events)
    seen: set[int] = set()
    if ids:
        rows = await visible(Ticket.select(Ticket.id).where(Ticket.id.is_in(ids)), actor)
        seen = {r["id"] for r in rows}
    notes = actor.can("ticket:write")
    return {
        e.id
        for e in events
        if e.entity_id in seen and (notes or not (e.data or {}).get("internal"))
    }


async def visible_survey_answers(actor: Any, events: list[Any]) -> set[str]:
    """Answers shown with a ticket the actor may see (``Ticket.surveys``) or counted in the
    satisfaction of a customer the actor may see (two queries)."""
    from kehu.core.services.customers import visible_customer_ids
    from kehu.plugins.tickets.services.common import visible

    if not events or not actor.can(READ):
        return set()
    ticket_ids = sorted({t for e in events if isinstance(t := e.data.get("ticket"), int)})
    tickets: set[int] = set()
    if ticket_ids:
        rows = await visible(Ticket.select(Ticket.id).where(Ticket.id.is_in(ticket_ids)), actor)
        tickets = {r["id"] for r in rows}
    rest = sorted({e.customer_id for e in events if e.data.get("ticket") not in tickets} - {None})
    customers = await visible_customer_ids(actor, rest)
    return {e.id for e in events if e.data.get("ticket") in tickets or e.customer_id in customers}


async def everyone_with_scope(actor: Any, events: list[Any]) -> set[str]:
    """SLA policies are read by everyone with ``ticket:read`` (``slaPolicies``)."""
    return {e.id for e in events} if actor.can(READ) else set()


def _ticket(name: str, description: str, fields: dict[str, str], **kw: Any) -> EventType:
    return EventType(
        f"ticket.{name}",
        description,
        fields,
        scope=READ,
        node="Ticket",
        visible=visible_ticket_events,
        **kw,
    )


TICKETS_EVENTS = [
    _ticket(
        "created",
        "A ticket was opened (any channel); the data is the new row.",
        TICKET_FIELDS,
        table=Ticket,
    ),
    _ticket(
        "updated",
        "Subject, priority, phase, type or channel changed: the changed fields, new values "
        "(a priority change re-targets the SLA clocks).",
        {k: TICKET_FIELDS[k] for k in ("subject", "priority", "phase", "type", "channel")},
    ),
    _ticket(
        "assigned",
        "The ticket was assigned (by hand or by the team's strategy) or unassigned.",
        {
            "assignee": "user id of the new assignee, or null (unassigned)",
            "team": "team id handling the ticket now, or null",
        },
    ),
    _ticket(
        "message_added",
        "A public reply, an internal note or a customer message was added (the text is not "
        "in the event: read it through GraphQL).",
        {
            "message_id": "id of the new message (GraphQL TicketMessage)",
            "internal": "true for an internal note (only receivers with ticket:write get these)",
            "from_customer": "true for a message received from the customer",
        },
    ),
    _ticket(
        "status_changed",
        "The ticket moved along the workflow (not a reopening: see ticket.reopened).",
        {"status": "the new status: open, pending_customer, resolved or closed"},
    ),
    _ticket(
        "reopened",
        "A resolved or closed ticket was reopened (its resolution clock runs again).",
        {"status": "the new status: open"},
    ),
    _ticket(
        "complaint_updated",
        "A complaint's category, root cause or corrective action was set: the fields given.",
        {k: TICKET_FIELDS[k] for k in ("complaint_category", "root_cause", "corrective_action")},
    ),
    _ticket(
        "merged",
        "A duplicate ticket was merged into this one (its messages moved here).",
        {
            "duplicate_id": "id of the duplicate ticket, now closed",
            "messages": "ids of the messages moved from it",
        },
    ),
    _ticket(
        "merged_into",
        "This ticket was merged into another one and closed.",
        {"merged_into": "id of the surviving ticket"},
    ),
    _ticket(
        "sla_reminder",
        "An SLA target is due soon (``reminder_lead_minutes`` of business time): the assignee, "
        "or the team's managers when unassigned, got a task.",
        SLA_STEP | {"reassigned_to": "always null for a reminder"},
    ),
    _ticket(
        "sla_breach",
        "An SLA target was breached: the team's managers got a task; with "
        "``reassign_on_breach`` the ticket was reassigned within the team (no ticket.assigned "
        "event is emitted for that).",
        SLA_STEP,
    ),
    EventType(
        "ticket_sla_policy.sla_policy_set",
        "A policy's SLA targets for a priority were created or changed; open tickets on the "
        "policy get new deadlines at once.",
        {
            "name": "policy name (default, or one named by kehu_ticket_sla_policy)",
            "priority": "urgent, high, normal or low",
            "first_response_minutes": "first-response target, minutes of business time",
            "resolution_minutes": "resolution target, minutes of business time",
        },
        table=SlaPolicy,
        scope=READ,
        visible=everyone_with_scope,
    ),
    EventType(
        "ticket_survey.created",
        "A satisfaction survey was created (on ticket close, after a won deal or by hand). "
        "Carries the survey token: a capability to answer as the customer, so only admins "
        "(the integrations that send the invitation) receive it.",
        {
            "kind": "csat (1–5) or nps (0–10)",
            "ticket": "id of the closed ticket it asks about, or null",
            "related_type": "what else it asks about (e.g. opportunity), or null",
            "related_id": "id of that record, or null",
            "token": "the survey token (secret; shown once, only its hash is stored)",
            "path": "the public link's path, /surveys/{token}",
        },
        scope="event:admin",
        node="Survey",
    ),
    EventType(
        "ticket_survey.answered",
        "The customer answered a survey (once, through its link); the comment is not in the event.",
        {
            "kind": "csat (1–5) or nps (0–10)",
            "score": "the score on the kind's scale",
            "dimensions": "scores 1–5 per dimension given (response_speed, accuracy, "
            "attitude, professionalism)",
            "ticket": "id of the ticket it was about, or null",
        },
        scope=READ,
        node="Survey",
        visible=visible_survey_answers,
    ),
    EventType(
        "customer.tickets_moved",
        "Customers were merged: the merged customer's tickets now belong to this one.",
        {"merged_id": "id of the merged customer", "tickets": "ids of the tickets moved"},
        scope=READ,
        node="Customer",
    ),
    EventType(
        "customer.churn_alert_raised",
        "The churn check found a churn risk at or above ``churn_threshold``: an alert was "
        "raised and its account manager got an intervention task.",
        {
            "alert_id": "id of the churn alert",
            "score": "churn risk score 0–100",
            "owner": "user id of the account manager tasked (owner, else the team's "
            "manager), or null",
            "activity": "activity id of the intervention task, or null (nobody to task)",
        },
        scope=READ,
        node="Customer",
    ),
    EventType(
        "customer.churn_alert_cleared",
        "The churn risk fell below ``churn_threshold``: the open alert was closed.",
        {"alert_id": "id of the churn alert", "score": "churn risk score 0–100 now"},
        scope=READ,
        node="Customer",
    ),
    EventType(
        "customer.churn_outcome",
        "The outcome of a churn intervention was recorded; the alert is closed.",
        {"alert_id": "id of the churn alert", "outcome": "what happened (text)"},
        scope=READ,
        node="Customer",
    ),
]
