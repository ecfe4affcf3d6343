"""Property tests: role splits and commissions never lose a cent; target decomposition is
exact; recomputation is idempotent on random ledgers with payouts in between."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core.money import Money
from kehu.core.permissions import system_actor
from kehu.core.testing import truncate_all
from kehu.plugins.incentives.services import ledger, plans
from kehu.plugins.incentives.services.targets import split_whole
from kehu.plugins.incentives.tables import CommissionLine

ROLES = st.sampled_from(["am", "ts", "sc", "bd"])
SPLIT = st.lists(st.integers(0, 100), min_size=4, max_size=4).filter(lambda x: sum(x) > 0)


@given(
    minor=st.integers(-(10**12), 10**12), team=st.lists(ROLES, min_size=1, max_size=7), split=SPLIT
)
def test_split_parts_sum_exactly_to_the_line_amount(minor, team, split):
    splits = dict(zip(["am", "ts", "sc", "bd"], map(Decimal, split), strict=True))
    participants = tuple((i, role) for i, role in enumerate(team))
    parts = ledger.split_source(Money(minor, "CNY"), participants, splits)
    assert sum(p.minor for *_, p in parts) == minor
    assert abs(sum(share for _, _, share, _ in parts) - 100) < Decimal("1e-20")  # display only
    assert all(abs(p.minor) <= abs(minor) for *_, p in parts)


@given(
    bases=st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=6),
    rate=st.decimals(Decimal(0), Decimal(1), places=4),
)
def test_commissions_of_a_source_round_once(bases, rate):
    parts = [(Money(b, "CNY"), rate) for b in bases]
    got = ledger.commissions(parts)
    assert sum(m.minor for m in got) == Money(sum(bases), "CNY").multiply(rate).minor


@given(
    minor=st.integers(1, 10**12),
    weights=st.lists(st.integers(0, 50), min_size=1, max_size=12).filter(any),
)
def test_target_decomposition_is_exact(minor, weights):
    row = {"amount_minor": minor, "currency": "CNY", "metric": "won_revenue", "value": ""}
    parts = split_whole(row, [Decimal(w) for w in weights])
    assert sum(p["amount_minor"] for p in parts) == minor
    count = {
        "amount_minor": None,
        "currency": "",
        "metric": "new_customers",
        "value": str(minor % 1000 + 1),
    }
    assert (
        sum(int(p["value"]) for p in split_whole(count, [Decimal(w) for w in weights]))
        == minor % 1000 + 1
    )


DEALS = st.lists(
    st.tuples(st.integers(1, 10**9), st.lists(ROLES, max_size=3), st.integers(0, 2), st.booleans()),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deals=DEALS, split=SPLIT, lock_after=st.integers(0, 4))
async def test_recomputation_is_idempotent(kehu, deals, split, lock_after):
    """Random won deals (some reopened after a payout): every recompute after the first
    changes nothing, and what the ledger holds per source equals the desired amount."""
    from kehu.core.services import customers, users
    from kehu.plugins.pipeline import services as pipeline
    from kehu.plugins.pipeline.tables import Opportunity

    await truncate_all(kehu)
    system = system_actor()
    reps = [
        (await users.create_user(system, {"username": f"u{i}", "role": "sales"}))["id"]
        for i in range(4)
    ]
    customer = await customers.create_customer(system, {"name": "C"})
    pipe = await pipeline.create_pipeline(
        system, "S", template="linear", transition_policy="non_linear"
    )
    splits = dict(zip(["am", "ts", "sc", "bd"], [str(s) for s in split], strict=True))
    fix = 100 - sum(int(v) for v in splits.values())
    splits["am"] = str(int(splits["am"]) + fix) if int(splits["am"]) + fix >= 0 else "0"
    if sum(int(v) for v in splits.values()) != 100:
        splits = {"am": "100"}
    plan = await plans.create_plan(
        system,
        {
            "name": "P",
            "basis": "won",
            "effective_from": date(2026, 1, 1),
            "splits": splits,
            "tiers": [{"from": "0", "rate": "0.05"}, {"from": "0.5", "rate": "0.1"}],
        },
    )
    for uid in reps:
        await plans.assign_plan(system, plan["id"], user_id=uid)
    quarters = ["2026-Q1", "2026-Q2", "2026-Q3"]
    deal_ids = []
    for n, (amount, roles, q, _) in enumerate(deals):
        opp = await pipeline.create_opportunity(
            system,
            {
                "name": f"D{n}",
                "customer": customer["id"],
                "amount": Money(amount, "CNY"),
                "owner": reps[n % 4],
                "pipeline": pipe["id"],
            },
        )
        for j, role in enumerate(roles):
            await pipeline.add_team_member(system, opp["id"], reps[(n + j + 1) % 4], role)
        await pipeline.win_opportunity(system, opp["id"])
        day = date(2026, 3 * q + 2, 15)
        await Opportunity.update({Opportunity.closed_at: datetime.combine(day, time(), UTC)}).where(
            Opportunity.id == opp["id"]
        )
        deal_ids.append(opp["id"])
    for key in quarters:
        await ledger.recompute(system, key)
    if lock_after < 3:
        await ledger.run_payout(system, quarters[lock_after])
        for opp_id, (_, _, _, reopen) in zip(deal_ids, deals, strict=True):
            if reopen:
                await pipeline.reopen_opportunity(system, opp_id)
        for key in quarters:
            await ledger.recompute(system, key)
    snapshot = await CommissionLine.select().order_by(CommissionLine.id)
    for key in quarters:
        again = await ledger.recompute(system, key)
        assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert await CommissionLine.select().order_by(CommissionLine.id) == snapshot
    for key in quarters:  # the ledger holds exactly what is desired, per source
        desired = {
            (s.source_key, s.user, s.role): s.amount.minor
            for s in await ledger.desired_lines(ledger.periods.parse(key))
        }
        held: dict = {}
        for x in snapshot:
            if x["source_period"] == key:
                k = (x["source_key"], x["user"], x["role"])
                held[k] = held.get(k, 0) + x["amount_minor"]
        assert {k: v for k, v in held.items() if v} == {k: v for k, v in desired.items() if v}
