"""With reporting enabled, tickets contributes SQL metrics to its registry (visibility
applied, same figures on SQLite and PostgreSQL)."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from kehu.plugins.reporting.services.registry import MetricQuery, registry, run
from kehu.plugins.tickets.services import surveys, tickets

from .conftest import MON, H


@pytest.fixture
def kehu_plugins():
    return ["tickets", "reporting"]


async def test_ticket_metrics_in_the_registry(kehu, make_user, make_customer, system):
    north = await make_user("support", team="North")
    south = await make_user("support", team="South")
    admin = await make_user("admin")
    acme = await make_customer("ACME", owner=north)
    blue = await make_customer("Blue", owner=south)
    for customer, (kind, category) in (
        (acme, ("complaint", "slow_response")),
        (acme, ("inquiry", None)),
        (blue, ("repair", None)),
    ):
        t = await tickets.create_ticket(
            admin.actor,
            customer["id"],
            {"subject": "x", "channel": "phone", "type": kind, "complaint_category": category},
            now=MON,
        )
        if kind == "inquiry":
            await tickets.add_message(admin.actor, t["id"], "hi", now=MON + 6 * H)
            await tickets.change_status(admin.actor, t["id"], "resolved", now=MON + 12 * H)
    for score in (5, 4, 2):
        _, token = await surveys.create_survey(system, acme["id"], "csat")
        await surveys.answer_survey(token, score)

    metrics = registry(kehu)
    assert {"tickets.created", "tickets.backlog", "satisfaction.csat", "satisfaction.nps"} <= set(
        metrics
    )
    assert metrics["tickets.created"].plugin == "tickets"
    span = {"start": MON - timedelta(days=1), "end": MON + timedelta(days=1)}

    async def value(name, user, dims=(), **kw):
        rows = await run(metrics[name], MetricQuery(user.actor, dims, **kw))
        return {tuple(r.dimensions.values()): r.value for r in rows}

    assert await value("tickets.created", admin, ("team",), **span) == {
        ("North",): 2,
        ("South",): 1,
    }
    assert await value("tickets.created", north, ("team",), **span) == {("North",): 2}
    assert await value("tickets.backlog", admin) == {(): 2}
    assert await value("tickets.complaints", admin, ("complaint_category",), **span) == {
        ("slow_response",): 1
    }
    assert await value("tickets.resolution_rate", admin, **span) == {(): Decimal("33.33")}
    assert await value("tickets.first_response_days", admin, **span) == {(): Decimal("0.25")}
    assert await value("tickets.resolution_days", admin, **span) == {(): Decimal("0.50")}
    now = datetime.now(MON.tzinfo)
    recent = {"start": now - timedelta(days=1), "end": now + timedelta(days=1)}
    assert await value("satisfaction.csat", admin, **recent) == {(): Decimal("66.67")}
    # South sees no answers (reporting shows an empty aggregate as 0)
    assert await value("satisfaction.csat", south, **recent) == {(): Decimal("0.00")}
    assert await value("satisfaction.csat", admin, ("owner",), **recent) == {
        (north.username,): Decimal("66.67")
    }
