"""The tickets plugin's DataLoader batch functions (``LOADERS``)."""

from typing import Any

from kehu.core.graphql.base import enum_value
from kehu.core.services.common import load_json
from kehu.plugins.tickets.graphql.types import (
    ChurnAlert,
    ChurnRisk,
    CustomerSatisfaction,
    SlaClock,
    Survey,
    Ticket,
    TicketEscalation,
    TicketMessage,
    TicketSla,
    TicketStatus,
    TicketStatusChange,
)
from kehu.plugins.tickets.services import churn, common, escalation, slas, surveys, tickets
from kehu.plugins.tickets.services.common import tickets_by_ids


async def load_tickets(ctx: Any, keys: list[int]) -> list[Ticket | None]:
    rows = await tickets_by_ids(ctx.actor, keys)
    return [Ticket.from_row(rows[k]) if k in rows else None for k in keys]


async def load_sla(ctx: Any, keys: list[int]) -> list[TicketSla]:
    rows = await tickets_by_ids(ctx.actor, keys)
    found = await slas.sla_of(list(rows.values()))
    out = []
    for k in keys:
        s = found[k]
        out.append(
            TicketSla(
                policy=s.policy,
                first_response=SlaClock.of(s.first_response),
                resolution=SlaClock.of(s.resolution),
                breached=s.breached,
            )
        )
    return out


async def load_messages(ctx: Any, keys: list[int]) -> list[list[TicketMessage]]:
    found = await tickets.messages_of(ctx.actor, keys)
    return [[TicketMessage.from_row(r) for r in found[k]] for k in keys]


async def load_history(ctx: Any, keys: list[int]) -> list[list[TicketStatusChange]]:
    found = await common.histories(keys)
    return [
        [
            TicketStatusChange(
                from_status=enum_value(TicketStatus, r["from_status"]),
                to_status=enum_value(TicketStatus, r["to_status"]),
                at=r["at"],
                actor_pk=r["actor"],
            )
            for r in found[k]
        ]
        for k in keys
    ]


async def load_escalations(ctx: Any, keys: list[int]) -> list[list[TicketEscalation]]:
    found = await escalation.escalations_of(keys)
    return [
        [
            TicketEscalation(
                target=r["target"],
                step=r["step"],
                at=r["at"],
                notified_user_ids=load_json(r["notified"]) or [],
            )
            for r in found[k]
        ]
        for k in keys
    ]


async def load_surveys(ctx: Any, keys: list[int]) -> list[list[Survey]]:
    found = await surveys.surveys_of_tickets(keys)
    return [[Survey.from_row(r) for r in found[k]] for k in keys]


async def load_by_customer(ctx: Any, keys: list[tuple[int, int, bool]]) -> list[list[Ticket]]:
    groups: dict[tuple[int, bool], list[int]] = {}
    for customer_id, limit, open_only in keys:
        groups.setdefault((limit, open_only), []).append(customer_id)
    found = {
        g: await tickets.tickets_of_customers(ctx.actor, ids, g[0], g[1])
        for g, ids in groups.items()
    }
    return [[Ticket.from_row(r) for r in found[(limit, o)][cid]] for cid, limit, o in keys]


async def load_open_counts(ctx: Any, keys: list[int]) -> list[int]:
    found = await tickets.open_counts(ctx.actor, keys)
    return [found[k] for k in keys]


async def load_satisfaction(ctx: Any, keys: list[int]) -> list[CustomerSatisfaction]:
    found = await surveys.satisfaction_of(keys)
    return [
        CustomerSatisfaction(
            csat=found[k].csat,
            csat_responses=found[k].csat_responses,
            nps=found[k].nps,
            nps_responses=found[k].nps_responses,
        )
        for k in keys
    ]


async def load_churn(ctx: Any, keys: list[int]) -> list[ChurnRisk]:
    found = await churn.risks(keys)
    return [ChurnRisk.of(found[k]) for k in keys]


async def load_churn_alerts(ctx: Any, keys: list[int]) -> list[ChurnAlert | None]:
    found = await churn.open_alerts(keys)
    return [
        ChurnAlert(
            score=a["score"],
            raised_at=a["raised_at"],
            signals=load_json(a["signals"]),
            activity_pk=a["activity_id"],
        )
        if (a := found.get(k))
        else None
        for k in keys
    ]


LOADERS = {
    "tickets_ticket": load_tickets,
    "tickets_sla": load_sla,
    "tickets_messages": load_messages,
    "tickets_history": load_history,
    "tickets_escalations": load_escalations,
    "tickets_surveys": load_surveys,
    "tickets_by_customer": load_by_customer,
    "tickets_open_count": load_open_counts,
    "tickets_satisfaction": load_satisfaction,
    "tickets_churn": load_churn,
    "tickets_churn_alert": load_churn_alerts,
}
