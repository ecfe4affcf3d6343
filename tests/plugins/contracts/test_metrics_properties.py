"""Property tests of the receivables metrics on random ledgers: the as-of open amount equals a
reference computed from the allocation and credit rows, the aging buckets partition it per
group, and grouped money metrics add up to their ungrouped totals."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kehu.core.errors import ValidationFailed
from kehu.core.money import Money
from kehu.core.permissions import system_actor
from kehu.core.services import customers
from kehu.core.testing import truncate_all
from kehu.plugins.contracts import services as r
from kehu.plugins.contracts import services as s
from kehu.plugins.contracts.tables import Allocation, Contract, Credit, Installment
from kehu.plugins.reporting import services as reporting

BASE = date(2026, 1, 1)
CLAUSES = {
    "title": "P",
    "delivery_deadline": BASE,
    "payment_method": "cash",
    "breach_liability": "x",
}

contracts_ = st.lists(
    st.tuples(
        st.sampled_from(["CNY", "USD"]),
        st.integers(0, 1),  # owner
        st.integers(0, 120),  # signed, days after BASE
        st.lists(
            st.tuples(st.integers(1, 10**7), st.integers(-30, 150)), min_size=1, max_size=3
        ),  # installments: amount, due (days after signing)
    ),
    min_size=1,
    max_size=3,
)
moves = st.lists(  # (contract, installment, share of the open amount in %, day, credit?)
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 2),
        st.integers(1, 100),
        st.integers(-2, 2) | st.integers(-120, 120),  # days from the as-of date
        st.booleans(),
    ),
    max_size=6,
)


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core", "contracts", "reporting"]


async def _ledger(owners, contracts, moves, as_of: date) -> None:
    system = system_actor()
    made = []
    for currency, owner, signed, installments in contracts:
        customer = await customers.create_customer(
            system, {"name": "C", "owner": owners[owner]}, allow_duplicate=True
        )
        total = sum(a for a, _ in installments)
        row = await s.create_contract(
            system,
            customer["id"],
            {
                **CLAUSES,
                "currency": currency,
                "owner": owners[owner],
                "lines": [
                    {
                        "product": "A",
                        "specification": "B",
                        "quantity": 1,
                        "unit_price": Money(total, currency),
                    }
                ],
            },
        )
        await s.submit_contract(system, row["id"])
        for _ in range(3):
            await s.decide_approval(system, row["id"], True)
        signed_on = BASE + timedelta(days=signed)
        await s.sign_contract(system, row["id"], signed_on=signed_on)
        made.append(
            await r.set_schedule(
                system,
                row["id"],
                [(signed_on + timedelta(days=due), Money(a, currency)) for a, due in installments],
            )
        )
    for c, i, share, day, credit in moves:
        inst = made[c % len(made)][i % len(made[c % len(made)])]
        current = await Installment.select().where(Installment.id == inst["id"]).first()
        amount = Money(max(1, r.open_minor(current) * share // 100), inst["currency"])
        on = as_of + timedelta(days=day)
        try:
            if credit:
                await r.issue_credit_note(system, inst["id"], amount, "x", issued_on=on)
            else:
                await r.record_payment(
                    system,
                    inst["customer"],
                    amount,
                    received_on=on,
                    allocations=[(inst["id"], amount)],
                )
        except ValidationFailed as exc:  # nothing open any more
            assert exc.errors[0].code in ("OVER_ALLOCATION", "INVALID")


async def _reference(as_of: date) -> dict[tuple[str, str], int]:
    """Open amount as of a date per (owner id, currency), from the allocation and credit rows."""
    applied: dict[int, int] = defaultdict(int)
    for a in await Allocation.select():
        if a["applied_on"] <= as_of:
            applied[a["installment"]] += a["amount_minor"]
    for c in await Credit.select():
        if c["installment"] is not None and c["issued_on"] <= as_of:
            applied[c["installment"]] += c["amount_minor"]
    contracts = {k["id"]: k for k in await Contract.select()}
    out: dict[tuple[str, str], int] = defaultdict(int)
    for i in await Installment.select():
        k = contracts[i["contract"]]
        if k["signed_on"] <= as_of and i["amount_minor"] > applied[i["id"]]:
            out[(str(k["owner"]), i["currency"])] += i["amount_minor"] - applied[i["id"]]
    return dict(out)


def _sums(rows, *dims: str) -> dict[tuple, Decimal]:
    out: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in rows:
        out[(*(row.dimensions[d] for d in dims), row.currency)] += row.value
    return dict(out)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(contracts=contracts_, moves=moves, as_of=st.integers(0, 240))
@example(  # a credit note and a payment on the as-of day itself count
    contracts=[("CNY", 0, 0, [(1000, 10)])],
    moves=[(0, 0, 30, 0, True), (0, 0, 30, 0, False)],
    as_of=30,
)
async def test_open_aging_and_totals_agree(kehu, contracts, moves, as_of):
    await truncate_all(kehu)
    from kehu.core.services import users

    system = system_actor()
    owners = [
        (await users.create_user(system, {"username": f"u{n}", "role": "sales"}))["id"]
        for n in range(2)
    ]
    names = {str(o): f"u{n}" for n, o in enumerate(owners)}
    day = BASE + timedelta(days=as_of)
    await _ledger(owners, contracts, moves, day)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    start = datetime(2025, 1, 1, tzinfo=UTC)

    async def metric(name, *dims, granularity="month"):
        return (
            await reporting.run_metric(
                system, name, dimensions=dims, start=start, end=end, granularity=granularity
            )
        )[1]

    expected = {
        (str(owner), currency): Money(v, currency).amount
        for (owner, currency), v in (await _reference(day)).items()
    }
    opened = _sums(await metric("contracts.open_receivables", "owner"), "owner")
    assert opened == {(names[o], c): v for (o, c), v in expected.items()}
    aging = await metric("contracts.aging", "owner")
    assert _sums(aging, "owner") == opened  # the buckets partition the open amount
    assert all(row.value >= 0 for row in aging)
    overdue = _sums(await metric("contracts.overdue_amount", "owner"), "owner")
    assert overdue == {
        k: v
        for k, v in _sums(
            [x for x in aging if x.dimensions["bucket"] != "current"], "owner"
        ).items()
        if v
    }
    for name, dim, granularity in (
        ("contracts.collected_amount", "period", "day"),
        ("contracts.collected_amount", "owner", "month"),
        ("contracts.signed_amount", "period", "day"),
        ("contracts.signed_amount", "product", "month"),
    ):
        per_currency: dict[tuple, Decimal] = defaultdict(Decimal)
        for (_, currency), v in _sums(
            await metric(name, dim, granularity=granularity), dim
        ).items():
            per_currency[(currency,)] += v  # groups add up to the ungrouped total
        assert dict(per_currency) == _sums(await metric(name)), (name, dim)
