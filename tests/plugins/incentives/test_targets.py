"""Targets: validation, decomposition (period and members) with exact sums, live
attainment from the source data, visibility; incentive events with approval; scorecards."""

from datetime import date
from decimal import Decimal

import pytest

from kehu.core.errors import Forbidden, NotFound, ValidationFailed
from kehu.plugins.incentives.services import events, scorecards, statements, targets
from kehu.plugins.incentives.services.actuals import available_metrics

from .conftest import cny

Q3 = date(2026, 8, 10)


async def test_validation(kehu, system, make_user):
    rep = await make_user("sales")
    with pytest.raises(ValidationFailed) as exc:
        await targets.create_target(
            system,
            {"metric": "collected_amount", "scope": "user", "user": rep.id, "period": "2026-Q9"},
        )
    codes = {(e.field, e.code) for e in exc.value.errors}
    assert ("metric", "PLUGIN_DISABLED") in codes  # contracts is not enabled here
    assert ("period", "INVALID") in codes
    with pytest.raises(ValidationFailed) as exc:
        await targets.create_target(
            system,
            {"metric": "won_revenue", "scope": "team", "period": "2026", "amount": cny("1.00")},
        )
    assert exc.value.errors[0].field == "teamId"
    with pytest.raises(Forbidden):
        await targets.create_target(
            rep.actor,
            {"metric": "won_revenue", "user": rep.id, "period": "2026", "amount": cny("1.00")},
        )
    assert "collected_amount" not in available_metrics()


async def test_decompose_year_quarters_months_and_team_members(kehu, system, make_user):
    a = await make_user("sales", team="North")
    b = await make_user("sales", team="North")
    team = await targets.create_target(
        system,
        {
            "metric": "won_revenue",
            "scope": "team",
            "team": a.team_id,
            "period": "2026",
            "amount": cny("1000000.01"),
        },
    )
    quarters = await targets.decompose(system, team["id"], by="period", weights={"2026-Q4": 2})
    assert [q["period"] for q in quarters] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert sum(q["amount_minor"] for q in quarters) == 100000001
    assert quarters[3]["amount_minor"] == 40000001  # 2/5 = 40000000.4 gets the spare cent
    months = await targets.decompose(system, quarters[0]["id"], by="period")
    assert [m["period"] for m in months] == ["2026-01", "2026-02", "2026-03"]
    assert [m["amount_minor"] for m in months] == [6666667, 6666667, 6666666]
    assert await targets.check_decomposition(system, quarters[0]["id"]) == []
    members = await targets.decompose(
        system, quarters[2]["id"], by="members", weights={a.id: 3, b.id: 1}
    )
    assert [(m["user"], m["amount_minor"]) for m in members] == [(a.id, 15000000), (b.id, 5000000)]
    with pytest.raises(ValidationFailed):
        await targets.decompose(system, months[0]["id"], by="period")
    count = await targets.create_target(
        system, {"metric": "new_customers", "scope": "company", "period": "2026-Q3", "value": 10}
    )
    assert [m["value"] for m in await targets.decompose(system, count["id"], by="period")] == [
        "4",
        "3",
        "3",
    ]


async def test_attainment_is_live_and_visibility(kehu, system, make_user, won_deal):
    rep = await make_user("sales", team="North")
    other = await make_user("sales", team="South")
    manager = await make_user("manager", team="North")
    mine = await targets.create_target(
        system,
        {"metric": "won_revenue", "user": rep.id, "period": "2026-Q3", "amount": cny("1000.00")},
    )
    theirs = await targets.create_target(
        system,
        {"metric": "won_revenue", "user": other.id, "period": "2026-Q3", "amount": cny("500.00")},
    )
    conv = await targets.create_target(
        system, {"metric": "conversion_rate", "user": rep.id, "period": "2026-Q3", "value": "0.5"}
    )
    [att] = await targets.attainments(rep.actor, [mine])
    assert att.ratio == 0
    await won_deal(rep, "250.00", closed_on=Q3)
    await won_deal(rep, "500.00", closed_on=Q3)
    atts = await targets.attainments(rep.actor, [mine, conv])
    assert [a.ratio for a in atts] == [0.75, 2]  # 2 of 2 closed deals won vs 50 %
    assert [t["id"] for t in await targets.list_targets(rep.actor, "2026-Q3")] == [
        mine["id"],
        conv["id"],
    ]
    with pytest.raises(NotFound):
        await targets.get_target(rep.actor, theirs["id"])
    # the North's manager sees the North's targets, not the South's
    assert len(await targets.list_targets(manager.actor, "2026-Q3")) == 2
    with pytest.raises(NotFound):
        await targets.get_target(manager.actor, theirs["id"])
    with pytest.raises(Forbidden):
        await targets.create_target(
            manager.actor,
            {"metric": "won_revenue", "user": other.id, "period": "2026-Q4", "amount": cny("1.00")},
        )


async def test_incentive_events_need_another_managers_approval(kehu, system, make_user):
    rep = await make_user("sales", team="North")
    m1, m2 = await make_user("manager", team="North"), await make_user("manager", team="North")
    with pytest.raises(Forbidden):
        await events.propose(
            rep.actor,
            {
                "kind": "bonus",
                "subtype": "bonus",
                "user": rep.id,
                "period": "2026-Q3",
                "reason": "me",
            },
        )
    with pytest.raises(ValidationFailed) as exc:
        await events.propose(
            m1.actor,
            {
                "kind": "allowance",
                "subtype": "travel",
                "user": rep.id,
                "period": "2026-Q3",
                "reason": "",
            },
        )
    assert {e.field for e in exc.value.errors} == {"amount", "reason"}
    travel = await events.propose(
        m1.actor,
        {
            "kind": "allowance",
            "subtype": "travel",
            "user": rep.id,
            "period": "2026-Q3",
            "reason": "差旅补贴 Shanghai visits",
            "amount": cny("800.00"),
        },
    )
    cut = await events.propose(
        m1.actor,
        {
            "kind": "penalty",
            "subtype": "pay_cut",
            "user": rep.id,
            "period": "2026-Q3",
            "reason": "减薪",
            "amount": cny("100.00"),
        },
    )
    star = await events.propose(
        m1.actor,
        {
            "kind": "honour",
            "subtype": "service_star",
            "user": rep.id,
            "period": "2026-Q3",
            "reason": "服务明星",
        },
    )
    with pytest.raises(Forbidden):
        await events.decide(m1.actor, travel["id"], True)  # own proposal
    for row in (travel, cut, star):
        await events.decide(m2.actor, row["id"], True)
    with pytest.raises(ValidationFailed):
        await events.decide(m2.actor, star["id"], False)
    st = await statements.statement(rep.actor, rep.id, "2026-Q3")
    assert st.totals["incentives"] == cny("700.00")
    assert [e["subtype"] for e in st.events] == ["travel", "pay_cut", "service_star"]
    assert len((await events.list_events(rep.actor))[0].rows) == 3
    other = await make_user("sales")
    assert (await events.list_events(other.actor))[0].rows == []


async def test_scorecard_uses_enabled_plugins_only(kehu, system, make_user, won_deal):
    rep = await make_user("sales")
    await targets.create_target(
        system,
        {"metric": "won_revenue", "user": rep.id, "period": "2026-Q3", "amount": cny("1000.00")},
    )
    await won_deal(rep, "800.00", closed_on=Q3)
    card = await scorecards.scorecard(rep.actor, rep.id, "2026-Q3")
    assert {i.metric for i in card.items} == {"won_revenue", "conversion_rate"}
    scores = {i.metric: i.score for i in card.items}
    assert scores == {"won_revenue": 80, "conversion_rate": 100}
    assert card.total == Decimal("86.67")  # (80 × 0.4 + 100 × 0.2) ÷ 0.6
    assert card.items[0].actual == Decimal("800.00")
    with pytest.raises(Forbidden):
        await scorecards.scorecard((await make_user("sales")).actor, rep.id, "2026-Q3")


async def test_proposals_are_idempotent(kehu, make_user):
    rep = await make_user("sales", team="North")
    manager = await make_user("manager", team="North")
    data = {
        "kind": "bonus",
        "subtype": "spot",
        "user": rep.id,
        "period": "2026-Q3",
        "reason": "deal",
        "amount": cny("10.00"),
        "idempotency_key": "k-1",
    }
    first = await events.propose(manager.actor, data)
    assert (await events.propose(manager.actor, data))["id"] == first["id"]
    with pytest.raises(ValidationFailed) as exc:
        await events.propose(manager.actor, {**data, "amount": cny("11.00")})
    assert exc.value.errors[0].code == "IDEMPOTENCY_KEY_REUSED"
    assert len((await events.list_events(manager.actor))[0].rows) == 1
