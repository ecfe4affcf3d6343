"""Commission ledger on won amounts (pipeline only): splits, tiers, caps, reopen, payout
locks and corrections in the next open period, idempotent recomputation."""

from datetime import date

import pytest

from kehu.core.errors import Forbidden, ValidationFailed
from kehu.core.money import Money
from kehu.plugins.incentives.services import ledger, periods, statements, targets
from kehu.plugins.incentives.tables import CommissionLine, PayoutRun
from kehu.plugins.pipeline import services as pipeline
from kehu.plugins.pipeline.tables import Opportunity

from .conftest import SPLITS, TIERS, cny, datetime_at

Q3 = date(2026, 8, 10)
Q3_KEY = "2026-Q3"


async def _lines(**where):
    rows = await CommissionLine.select().order_by(CommissionLine.id)
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


async def test_split_across_team_roles_with_provenance(
    kehu, system, make_user, won_deal, make_plan
):
    am, ts, sc, bd = [await make_user("sales", username=n) for n in ("am", "ts", "sc", "bd")]
    plan = await make_plan([am, ts, sc, bd], splits=SPLITS)
    deal = await won_deal(am, "1000.01", team=[(ts, "ts"), (sc, "sc"), (bd, "bd")], closed_on=Q3)
    result = await ledger.recompute(system, Q3_KEY)
    assert result.created == 4
    lines = await _lines()
    assert {x["role"]: x["base_minor"] for x in lines} == {
        "am": 50001,
        "ts": 20000,
        "sc": 20000,
        "bd": 10000,
    }  # parts sum to 100001
    assert sum(x["amount_minor"] for x in lines) == Money(100001, "CNY").multiply("0.1").minor
    am_line = next(x for x in lines if x["role"] == "am")
    assert am_line["source_key"] == f"won:{deal['id']}"
    assert am_line["plan"] == plan["id"] and am_line["rate"] == "0.1"
    assert am_line["explanation"].startswith(
        f"10% (Plan 1, tier ≥0%) × 50% (AM) of won opportunity #{deal['id']} 'Deal'"
    )
    assert am_line["kind"] == "commission" and am_line["period"] == Q3_KEY


async def test_missing_roles_share_goes_to_present_ones(
    kehu, system, make_user, won_deal, make_plan
):
    am, ts = await make_user("sales"), await make_user("sales")
    await make_plan([am, ts], splits=SPLITS)
    await won_deal(am, "700.00", team=[(ts, "ts")], closed_on=Q3)
    await ledger.recompute(system, Q3_KEY)
    assert {x["role"]: x["base_minor"] for x in await _lines()} == {"am": 50000, "ts": 20000}


async def test_users_without_plan_earn_nothing(kehu, system, make_user, won_deal, make_plan):
    am, ts = await make_user("sales"), await make_user("sales")
    await make_plan([am], splits={"am": 60, "ts": 40})
    await won_deal(am, "100.00", team=[(ts, "ts")], closed_on=Q3)
    await ledger.recompute(system, Q3_KEY)
    assert [(x["user"], x["base_minor"]) for x in await _lines()] == [(am.id, 6000)]


async def test_tiers_by_attainment_and_cap(kehu, system, make_user, won_deal, make_plan):
    rep = await make_user("sales")
    await make_plan([rep], tiers=TIERS, cap=cny("100.00"))
    await targets.create_target(
        system,
        {
            "metric": "won_revenue",
            "scope": "user",
            "user": rep.id,
            "period": Q3_KEY,
            "amount": cny("1000.00"),
        },
    )
    await won_deal(rep, "700.00", closed_on=Q3)
    await ledger.recompute(system, Q3_KEY)
    assert [(x["tier"], x["amount_minor"]) for x in await _lines()] == [("≥0%", 3500)]
    await won_deal(rep, "200.00", closed_on=Q3)  # 90 % → 8 % on the whole period
    await ledger.recompute(system, Q3_KEY)
    assert [(x["tier"], x["amount_minor"]) for x in await _lines()] == [
        ("≥80%", 5600),
        ("≥80%", 1600),
    ]
    await won_deal(rep, "400.00", closed_on=Q3)  # 130 % → 12 %, 156.00 capped at 100.00
    await ledger.recompute(system, Q3_KEY)
    lines = await _lines()
    assert sorted((x["kind"], x["amount_minor"]) for x in lines) == [
        ("cap", -5600),
        ("commission", 2400),
        ("commission", 4800),
        ("commission", 8400),
    ]
    st = await statements.statement(system, rep.id, Q3_KEY)
    assert st.totals["total"] == cny("100.00")


async def test_reopened_deal_loses_its_line(kehu, system, make_user, won_deal, make_plan):
    rep = await make_user("sales")
    await make_plan([rep])
    deal = await won_deal(rep, "100.00", closed_on=Q3)
    await ledger.recompute(system, Q3_KEY)
    assert len(await _lines()) == 1
    await pipeline.reopen_opportunity(system, deal["id"])
    result = await ledger.recompute(system, Q3_KEY)
    assert result.deleted == 1 and await _lines() == []


async def test_recompute_is_idempotent(kehu, system, make_user, won_deal, make_plan):
    rep, ts = await make_user("sales"), await make_user("sales")
    await make_plan([rep, ts], splits=SPLITS, tiers=TIERS)
    for amount in ("333.33", "0.01", "12345.67"):
        await won_deal(rep, amount, team=[(ts, "ts")], closed_on=Q3)
    first = await ledger.recompute(system, Q3_KEY)
    before = await _lines()
    second = await ledger.recompute(system, Q3_KEY)
    assert first.created == 4  # the 0.01 deal earns 0 cents: no line
    assert (second.created, second.updated, second.deleted, second.unchanged) == (0, 0, 0, 4)
    assert await _lines() == before


async def test_payout_locks_and_corrections_go_to_next_open_period(
    kehu, system, make_user, won_deal, make_plan
):
    rep = await make_user("sales")
    finance = await make_user("finance")
    await make_plan([rep])
    deal = await won_deal(rep, "100.00", closed_on=Q3)
    with pytest.raises(Forbidden):
        await ledger.run_payout(rep.actor, Q3_KEY)
    run = await ledger.run_payout(finance.actor, Q3_KEY)
    assert (run["lines"], run["total_minor"]) == (1, 1000)
    with pytest.raises(ValidationFailed) as exc:
        await ledger.run_payout(finance.actor, Q3_KEY)
    assert exc.value.errors[0].code == "LOCKED"
    # the deal is reopened after payout: Q3 stays as paid, Q4 gets the clawback
    await pipeline.reopen_opportunity(system, deal["id"])
    await ledger.recompute(system, Q3_KEY)
    q3 = await _lines(period=Q3_KEY)
    assert [(x["kind"], x["amount_minor"]) for x in q3] == [("commission", 1000)]
    q4 = await _lines(period="2026-Q4")
    assert [(x["kind"], x["amount_minor"], x["source_period"]) for x in q4] == [
        ("clawback", -1000, Q3_KEY)
    ]
    assert q4[0]["explanation"].startswith("correction of locked period 2026-Q3")
    assert (await ledger.recompute(system, Q3_KEY)).created == 0  # idempotent
    # won again: the clawback disappears (net zero against what was paid)
    await pipeline.win_opportunity(system, deal["id"])
    await Opportunity.update({Opportunity.closed_at: datetime_at(Q3)}).where(
        Opportunity.id == deal["id"]
    )
    await ledger.recompute(system, Q3_KEY)
    assert await _lines(period="2026-Q4") == []
    assert await PayoutRun.count() == 1


async def test_locked_period_is_skipped_to_the_first_open_one(
    kehu, system, make_user, won_deal, make_plan
):
    rep = await make_user("sales")
    await make_plan([rep])
    await ledger.run_payout(system, Q3_KEY)
    await ledger.run_payout(system, "2026-Q4")
    await won_deal(rep, "50.00", closed_on=Q3)  # late entry dated in a paid-out quarter
    await ledger.recompute(system, Q3_KEY)
    [line] = await _lines()
    assert (line["period"], line["kind"], line["amount_minor"]) == ("2027-Q1", "adjustment", 500)


async def test_period_validation_and_permissions(kehu, system, make_user):
    rep = await make_user("sales")
    with pytest.raises(ValidationFailed):
        await ledger.recompute(system, "2026-07")  # quarters are the settlement period
    with pytest.raises(ValidationFailed):
        await ledger.recompute(system, "2026-Q5")
    with pytest.raises(Forbidden):
        await ledger.recompute(rep.actor, Q3_KEY)
    assert periods.parse("2026-q3").next().key == "2026-Q4"
    assert periods.parse("2026-Q4").next().key == "2027-Q1"


async def test_team_assignment_own_override_and_effective_dates(kehu, system, make_user, won_deal):
    from kehu.plugins.incentives.services import plans

    a = await make_user("sales", team="North")
    b = await make_user("sales", team="North")
    team_plan = await plans.create_plan(
        system, {"name": "Team", "basis": "won", "rate": "0.1", "effective_from": date(2026, 1, 1)}
    )
    own = await plans.create_plan(
        system,
        {
            "name": "Own",
            "basis": "won",
            "rate": "0.2",
            "effective_from": date(2026, 1, 1),
            "effective_to": date(2026, 8, 31),
        },
    )
    await plans.assign_plan(system, team_plan["id"], team_id=a.team_id)
    await plans.assign_plan(system, own["id"], user_id=a.id)
    await won_deal(a, "100.00", closed_on=Q3)  # own plan, 20 %
    await won_deal(a, "100.00", closed_on=date(2026, 9, 15))  # own plan expired → team 10 %
    await won_deal(b, "100.00", closed_on=Q3)  # team plan, 10 %
    await ledger.recompute(system, Q3_KEY)
    assert sorted((x["user"], x["amount_minor"]) for x in await _lines()) == [
        (a.id, 1000),
        (a.id, 2000),
        (b.id, 1000),
    ]
    with pytest.raises(ValidationFailed):
        await plans.assign_plan(system, own["id"])  # neither user nor team
    with pytest.raises(ValidationFailed) as exc:
        await plans.create_plan(
            system,
            {
                "name": "Own",
                "basis": "won",
                "rate": "2",
                "effective_from": date(2026, 1, 1),
                "effective_to": date(2025, 1, 1),
            },
        )
    assert {e.field for e in exc.value.errors} == {"tiers.0.rate", "effectiveTo", "name"}


async def test_commission_report_metric(kehu, system, make_user, won_deal, make_plan):
    from kehu.plugins.incentives.report_metrics import report_metrics
    from kehu.plugins.reporting.services.registry import MetricQuery

    rep = await make_user("sales", username="ann")
    other = await make_user("sales", username="ben")
    await make_plan([rep, other])
    await won_deal(rep, "100.00", closed_on=Q3)
    await won_deal(other, "300.00", closed_on=Q3)
    await ledger.recompute(system, Q3_KEY)
    [metric] = [m for m in report_metrics() if m.name == "incentives.commission"]
    rows = await metric.compute(MetricQuery(system, ("owner",)))
    assert [(r.dimensions["owner"], str(r.value)) for r in rows] == [
        (rep.username, "10.00"),
        (other.username, "30.00"),
    ]
    rows = await metric.compute(MetricQuery(rep.actor))
    assert [str(r.value) for r in rows] == ["10.00"]  # only your own lines


async def test_won_deal_is_booked_automatically(kehu, system, make_user, won_deal, make_plan):
    rep = await make_user("sales")
    await make_plan([rep])
    await won_deal(rep, "80.00")  # kehu_opportunity_won recomputes the current period
    [line] = await _lines()
    assert line["amount_minor"] == 800
    assert line["period"] == periods.containing(date.today(), "quarter").key


async def test_no_fx_a_plan_pays_in_its_own_currency(kehu, system, make_user, won_deal, make_plan):
    from kehu.plugins.incentives.services.actuals import actuals

    rep = await make_user("sales")
    await make_plan([rep])  # CNY
    deal = await won_deal(rep, "100.00", closed_on=Q3)
    await Opportunity.update({Opportunity.currency: "USD"}).where(Opportunity.id == deal["id"])
    await won_deal(rep, "50.00", closed_on=Q3)
    await ledger.recompute(system, Q3_KEY)
    assert [(x["amount_minor"], x["currency"]) for x in await _lines()] == [(500, "CNY")]
    q3 = periods.parse(Q3_KEY)
    assert (await actuals("won_revenue", q3))[rep.id].minor == 5000
    assert (await actuals("won_revenue", q3, currency="USD"))[rep.id].minor == 10000


async def test_reopening_a_deal_unbooks_it_automatically(
    kehu, system, make_user, won_deal, make_plan
):
    rep = await make_user("sales")
    await make_plan([rep])
    deal = await won_deal(rep, "80.00")
    assert len(await _lines()) == 1
    await pipeline.reopen_opportunity(system, deal["id"])  # stage_changed from the won stage
    assert await _lines() == []
