"""Forecast arithmetic (exact, lost = 0), snapshots vs actuals, metrics aggregated in SQL."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.core.money import Money
from kehu.core.services.common import now
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t

Q1 = {"period_start": date(2030, 1, 1), "period_end": date(2030, 4, 1)}


def _by_key(rows):
    return {(r.key, r.currency): r for r in rows}


async def test_weighted_forecast_and_lost_counts_zero(
    kehu, system, make_customer, make_pipeline, make_opportunity
):
    pipeline, st_ = await make_pipeline("linear")
    acme = await make_customer()
    close = {"expected_close_date": date(2030, 2, 1)}
    # 10% of 1,000.05 = 100.005 → 100.01 (half up); 10% of 0.15 = 0.015 → 0.02
    a = await make_opportunity(acme, pipeline, amount=0, **close)
    a = await services.update_opportunity(
        system, a["id"], a["version"], {"amount": Money(100_005, "CNY")}
    )
    b = await make_opportunity(acme, pipeline, amount=0, **close)
    b = await services.update_opportunity(
        system, b["id"], b["version"], {"amount": Money(15, "CNY")}
    )
    assert services.weighted(a["weighted_basis"], "CNY") == Money(10_001, "CNY")
    assert services.weighted(b["weighted_basis"], "CNY") == Money(2, "CNY")
    rows = _by_key(await services.forecast(system, **Q1))
    # exact sum first, rounded once: 100.005 + 0.015 = 100.02 (per-deal rounding: 100.03)
    assert rows[("pipeline", "CNY")].weighted == Money(10_002, "CNY")
    assert rows[("pipeline", "CNY")].total == Money(100_020, "CNY")

    lost = await make_opportunity(acme, pipeline, amount=1_000_000, **close)
    await services.lose_opportunity(system, lost["id"], "price")
    usd = await make_opportunity(
        acme, pipeline, amount=2_000, currency="USD", probability=55, **close
    )
    outside = await make_opportunity(acme, pipeline, amount=7, expected_close_date=date(2030, 5, 1))
    rows = _by_key(await services.forecast(system, **Q1))
    assert rows[("pipeline", "CNY")].count == 2  # the lost deal contributes nothing
    assert rows[("pipeline", "CNY")].weighted == Money(10_002, "CNY")
    assert rows[("pipeline", "USD")].weighted == Money(110_000, "USD")  # 55% override
    assert usd["probability_overridden"] and outside["id"]
    months = _by_key(await services.forecast(system, group_by="month"))
    assert months[("2030-02", "CNY")].weighted == Money(10_002, "CNY")
    assert months[("2030-05", "CNY")].count == 1
    quarters = _by_key(await services.forecast(system, group_by="quarter"))
    assert quarters[("2030-Q1", "USD")].weighted == Money(110_000, "USD")
    everything = _by_key(await services.forecast(system))
    assert everything[("pipeline", "CNY")].count == 3
    assert not any(r.key == "omitted" for r in await services.forecast(system))

    # a deal in Closing is 'commit' at 80%; won deals count fully in 'closed'
    c = await make_opportunity(acme, pipeline, amount=100, **close)
    await services.add_need(system, c["id"], "n", 1, 1, 1)
    for name in (
        "Initial Contact & Needs Assessment",
        "Presentation & Proposal",
        "Negotiation & Objection Handling",
        "Closing",
    ):
        c = await services.move_stage(system, c["id"], st_[name]["id"])
    rows = _by_key(await services.forecast(system, **Q1))
    assert rows[("commit", "CNY")].weighted == Money(8_000, "CNY")
    await services.win_opportunity(system, c["id"])
    rows = _by_key(await services.forecast(system, **Q1))
    assert rows[("closed", "CNY")].weighted == Money(10_000, "CNY")
    assert ("commit", "CNY") not in rows


async def test_forecast_by_owner_respects_visibility(
    kehu, make_user, make_customer, make_pipeline, make_opportunity
):
    pipeline, _ = await make_pipeline("linear")
    north = await make_user("sales", team="North")
    south = await make_user("sales", team="South")
    manager = await make_user("manager", team="North")
    for rep, amount in ((north, 100), (south, 300)):
        customer = await make_customer(f"C{rep.id}", owner=rep)
        await make_opportunity(customer, pipeline, amount=amount, actor=rep.actor)
    own = _by_key(await services.forecast(north.actor, group_by="owner"))
    assert list(own) == [(str(north.id), "CNY")]
    assert own[(str(north.id), "CNY")].weighted == Money(1_000, "CNY")
    team = await services.forecast(manager.actor, group_by="team")
    assert [(r.key, r.weighted) for r in team] == [(str(north.team_id), Money(1_000, "CNY"))]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**12), st.integers(0, 100)), max_size=30))
def test_weighted_sum_is_exact(deals):
    """Rounding once at the edge: the result differs from the exact rational sum by at most
    half a minor unit, and splitting the basis never loses a minor unit."""
    basis = sum(a * p for a, p in deals)
    result = services.weighted(basis, "CNY")
    exact = Decimal(basis) / 100
    assert abs(Decimal(result.minor) - exact) <= Decimal("0.5")
    assert result.minor == int((exact + Decimal("0.5")).to_integral_value(rounding="ROUND_FLOOR"))
    per_deal = sum(services.weighted(a * p, "CNY").minor for a, p in deals)
    assert abs(per_deal - result.minor) <= len(deals)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))
def test_need_priority_is_exact(impact, difficulty, urgency):
    priority = services.need_priority(impact, difficulty, urgency)
    assert priority == Decimal(4 * impact + 3 * difficulty + 3 * urgency) / 10
    assert Decimal(1) <= priority <= Decimal(5)


async def test_snapshot_and_forecast_vs_actual(
    kehu, system, make_customer, make_pipeline, make_opportunity
):
    pipeline, _ = await make_pipeline("consultative")
    acme = await make_customer()
    today = now().date()
    start, end = services.quarter(today)
    a = await make_opportunity(acme, pipeline, amount=1_000, expected_close_date=today)
    b = await make_opportunity(acme, pipeline, amount=500, expected_close_date=today)
    await make_opportunity(acme, pipeline, amount=99, expected_close_date=end)  # next quarter
    job = kehu.jobs()["pipeline.forecast_snapshot"]
    assert job.every == timedelta(days=7)
    assert "forecast snapshot" in await job.func(kehu)
    snap = (await services.list_snapshots(system))[0]
    assert (snap["period_start"], snap["period_end"]) == (start, end)
    # afterwards: a is won, b lost; the snapshot keeps what was forecast then
    await services.win_opportunity(system, a["id"])
    await services.lose_opportunity(system, b["id"], "price")
    [cmp] = await services.forecast_vs_actual(system, snap["id"])
    assert cmp.forecast_weighted == Money(22_500, "CNY")  # 15% of 1,500
    assert cmp.actual_won == Money(100_000, "CNY")
    assert cmp.variance == Money(77_500, "CNY")
    lines = await t.ForecastSnapshotLine.count().where(
        t.ForecastSnapshotLine.snapshot == snap["id"]
    )
    assert lines == 1


async def test_metrics(kehu, system, make_user, make_customer, make_pipeline, make_opportunity):
    pipeline, st_ = await make_pipeline("customer_journey")
    acme = await make_customer()
    deals = [
        await make_opportunity(acme, pipeline, amount=100 * (i + 1), name=f"d{i}") for i in range(4)
    ]
    for d in deals[:3]:
        await services.move_stage(system, d["id"], st_["Consideration"]["id"])
    for d in deals[:2]:
        await services.move_stage(system, d["id"], st_["Decision"]["id"])
    await services.win_opportunity(system, deals[0]["id"])
    await services.lose_opportunity(system, deals[1]["id"], "competitor")
    # pretend the win took exactly 10 days
    await t.Opportunity.update({t.Opportunity.cycle_seconds: 10 * 86400}).where(
        t.Opportunity.id == deals[0]["id"]
    )

    funnel = await services.funnel(system, pipeline["id"])
    assert [(f.name, f.reached, f.current) for f in funnel] == [
        ("Awareness", 4, 1),
        ("Consideration", 3, 1),
        ("Decision", 2, 0),
        ("Retention", 1, 0),
    ]
    assert [f.conversion for f in funnel] == [
        Decimal("0.75"),
        Decimal("0.6667"),
        Decimal("0.5"),
        None,
    ]
    rate = await services.win_rate(system, pipeline_id=pipeline["id"])
    assert (rate.won, rate.lost, rate.rate) == (1, 1, Decimal("0.5"))
    assert await services.average_deal_cycle_days(system) == Decimal("10.00")
    v = await services.pipeline_velocity(system, currency="CNY")
    # 2 open × 100.00 average won × 0.5 ÷ 10 days = 10.00 per day
    assert (v.open_deals, v.average_won_amount, v.per_day) == (
        2,
        Money(10_000, "CNY"),
        Money(1_000, "CNY"),
    )
    rep = await make_user("sales")
    assert (await services.win_rate(rep.actor)).rate is None  # sees no deals
    assert [f.reached for f in await services.funnel(rep.actor, pipeline["id"])] == [0] * 4
