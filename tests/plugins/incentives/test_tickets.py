"""Support-agent metrics when the tickets plugin is enabled: CSAT, first response and
resolution hours per assignee, in scorecards and targets. Rows are written directly (the
tickets API is the tickets plugin's concern; these tests cover the incentives SQL)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kehu.plugins.incentives.services import periods, scorecards, targets
from kehu.plugins.incentives.services.actuals import actuals, available_metrics

T0 = datetime(2026, 8, 3, 9, tzinfo=UTC)


@pytest.fixture
def kehu_plugins():
    return ["core", "pipeline", "tickets", "incentives"]


async def _ticket(agent, customer, n, respond_h, resolve_h, score):
    from kehu.plugins.tickets.tables import Survey, Ticket

    row = (
        await Ticket.insert(
            Ticket(
                number=f"T-{n}",
                customer=customer["id"],
                channel="email",
                subject="s",
                assignee=agent.id,
                created_at=T0,
                first_responded_at=T0 + timedelta(hours=respond_h),
                resolved_at=T0 + timedelta(hours=resolve_h),
            )
        ).returning(Ticket.id)
    )[0]
    await Survey.insert(
        Survey(
            kind="csat",
            customer=customer["id"],
            ticket=row["id"],
            question="How did we do?",
            token_hash=f"h{n}",
            expires_at=T0 + timedelta(days=30),
            answered_at=T0 + timedelta(days=1),
            score=score,
        )
    )


async def test_support_scorecard(kehu, system, make_user, make_customer):
    agent = await make_user("support")
    customer = await make_customer("ACME")
    await _ticket(agent, customer, 1, 2, 10, 5)
    await _ticket(agent, customer, 2, 4, 30, 4)
    assert {"csat", "first_response_hours", "resolution_hours"} <= set(available_metrics())
    q3 = periods.parse("2026-Q3")
    assert (await actuals("csat", q3))[agent.id].number == Decimal("4.5")
    assert (await actuals("first_response_hours", q3))[agent.id].number == Decimal("3.00")
    assert (await actuals("resolution_hours", q3))[agent.id].number == Decimal("20.00")
    # grouped in SQL by the ticket's team (none here) or for the whole company
    assert {k: v.number for k, v in (await actuals("csat", q3, "team")).items()} == {
        None: Decimal("4.5")
    }
    assert (await actuals("resolution_hours", q3, "company"))[0].number == Decimal("20.00")
    await targets.create_target(
        system,
        {"metric": "first_response_hours", "user": agent.id, "period": "2026-Q3", "value": "4"},
    )
    card = await scorecards.scorecard(agent.actor, agent.id, "2026-Q3")
    scores = {i.metric: i.score for i in card.items}
    assert scores == {"csat": Decimal("90.00"), "first_response_hours": Decimal("133.33")}
    # weights csat 0.2, first response 0.1 → (90 × 2 + 133.33 × 1) ÷ 3
    assert card.total == Decimal("104.44")
