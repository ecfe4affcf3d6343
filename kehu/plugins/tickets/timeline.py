"""Ticket events on the customer timeline: status changes (creation included) and answered
surveys."""

from datetime import datetime

from kehu.core.services.timeline import TimelineEntry
from kehu.plugins.tickets.services.common import PLUGIN
from kehu.plugins.tickets.tables import Survey, TicketStatusChange

TITLES = {
    None: "Ticket {number} opened: {subject}",
    "open": "Ticket {number} open",
    "pending_customer": "Ticket {number} waiting for the customer",
    "resolved": "Ticket {number} resolved",
    "closed": "Ticket {number} closed",
}


async def timeline_entries(
    customer_id: int, before: datetime | None, limit: int
) -> list[TimelineEntry]:
    change = TicketStatusChange
    query = change.select(
        change.id,
        change.at,
        change.from_status,
        change.to_status,
        change.actor,
        change.ticket.id.as_alias("ticket_id"),
        change.ticket.number.as_alias("number"),
        change.ticket.subject.as_alias("subject"),
        change.ticket.priority.as_alias("priority"),
    ).where(change.ticket.customer == customer_id)
    surveys = Survey.select().where(
        Survey.customer == customer_id, Survey.answered_at.is_not_null()
    )
    if before is not None:
        query = query.where(change.at <= before)
        surveys = surveys.where(Survey.answered_at <= before)
    rows = await query.order_by(change.at, change.id, ascending=False).limit(limit)
    answered = await surveys.order_by(Survey.answered_at, Survey.id, ascending=False).limit(limit)
    out = []
    for r in rows:
        opened = r["from_status"] is None
        title = TITLES.get(None if opened else r["to_status"], "Ticket {number}")
        if r["from_status"] in ("resolved", "closed") and r["to_status"] == "open":
            title = "Ticket {number} reopened"
        out.append(
            TimelineEntry(
                at=r["at"],
                kind="ticket.created" if opened else "ticket.status_changed",
                title=title.format(number=r["number"], subject=r["subject"])[:255],
                body="" if opened else f"{r['from_status']} → {r['to_status']}",
                source=PLUGIN,
                entity="ticket_status_change",
                entity_id=r["id"],
                actor_id=r["actor"],
                data={"ticket": r["ticket_id"], "priority": r["priority"], "to": r["to_status"]},
            )
        )
    for s in answered:
        out.append(
            TimelineEntry(
                at=s["answered_at"],
                kind=f"survey.{s['kind']}",
                title=f"{s['kind'].upper()} answered: {s['score']}",
                body=s["comment"],
                source=PLUGIN,
                entity="ticket_survey",
                entity_id=s["id"],
                data={"score": s["score"], "ticket": s["ticket"]},
            )
        )
    return out
