"""Commissions on invoiced and collected amounts (contracts enabled), reproducing the known
bug classes of commission systems: refunded money counted positive, partial payments paid in
full, reversed invoices skipped; refunds after payout claw back in the next open period."""

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core.money import Money
from kehu.core.permissions import system_actor
from kehu.core.testing import truncate_all
from kehu.plugins.contracts import services as contracts
from kehu.plugins.contracts import services as r
from kehu.plugins.incentives.services import actuals, ledger, periods, plans
from kehu.plugins.incentives.tables import CommissionLine

from .conftest import cny

Q3_DAY = date(2026, 8, 10)
CLAUSES = {
    "title": "Supply",
    "delivery_deadline": date(2026, 3, 1),
    "payment_method": "bank_transfer",
    "payment_terms": "30/70",
    "breach_liability": "10%",
    "acceptance_terms": "15 days",
}


@pytest.fixture
def kehu_plugins():
    return ["core", "pipeline", "contracts", "incentives"]


async def signed_contract(system, customer, total: str = "1000.00"):
    row = await contracts.create_contract(
        system,
        customer["id"],
        {
            **CLAUSES,
            "lines": [
                {"product": "P", "specification": "S", "quantity": 1, "unit_price": cny(total)}
            ],
        },
    )
    row = await contracts.submit_contract(system, row["id"])
    while row["status"] == "pending_approval":
        row = await contracts.decide_approval(system, row["id"], True, "ok")
    row = await contracts.sign_contract(system, row["id"], signed_on=date(2026, 1, 5))
    inst = (await r.installments_by_contract([row["id"]]))[row["id"]]
    return row, inst


async def _setup(system, make_user, make_customer, make_plan, basis):
    rep = await make_user("sales")
    customer = await make_customer("ACME", owner=rep)
    plan = await make_plan([rep], basis=basis, rate="0.1")
    contract, inst = await signed_contract(system, customer)
    return rep, customer, plan, contract, inst


async def _lines():
    return await CommissionLine.select().order_by(CommissionLine.id)


async def test_partial_payment_earns_only_what_was_paid(
    kehu, system, make_user, make_customer, make_plan
):
    rep, customer, _, contract, inst = await _setup(
        system, make_user, make_customer, make_plan, "collected"
    )
    await r.issue_invoice(system, contract["id"], installment_id=inst[0]["id"], issued_on=Q3_DAY)
    await r.record_payment(
        system,
        customer["id"],
        cny("100.00"),
        received_on=Q3_DAY,
        allocations=[(inst[0]["id"], cny("100.00"))],
    )
    await ledger.recompute(system, "2026-Q3")
    [line] = await _lines()
    assert (line["base_minor"], line["amount_minor"]) == (10000, 1000)
    assert line["explanation"].startswith("10% (Plan 1, tier ≥0%) × 100% (AM) of payment P-")
    assert "allocated to installment 1 on " + contract["number"] in line["explanation"]
    got = await actuals.actuals("collected_amount", periods.parse("2026-Q3"))
    assert got[rep.id].minor == 10000


async def test_refunded_money_is_never_counted_positive(
    kehu, system, make_user, make_customer, make_plan
):
    _rep, customer, _, contract, inst = await _setup(
        system, make_user, make_customer, make_plan, "collected"
    )
    pay = await r.record_payment(
        system,
        customer["id"],
        cny("500.00"),
        received_on=Q3_DAY,
        contract_id=contract["id"],
        allocations=[(inst[0]["id"], cny("300.00"))],
    )
    await r.refund_payment(system, pay.payment["id"], cny("200.00"), "overpaid", issued_on=Q3_DAY)
    await ledger.recompute(system, "2026-Q3")
    lines = await _lines()
    assert [(x["kind"], x["amount_minor"]) for x in lines] == [
        ("commission", 5000),
        ("clawback", -2000),
    ]
    assert sum(x["amount_minor"] for x in lines) == 3000  # 10 % of the 300.00 kept
    assert "refund R-" in lines[1]["explanation"]


async def test_reversed_invoice_is_not_skipped(kehu, system, make_user, make_customer, make_plan):
    _, _, _, contract, inst = await _setup(system, make_user, make_customer, make_plan, "invoiced")
    await r.issue_invoice(system, contract["id"], installment_id=inst[0]["id"], issued_on=Q3_DAY)
    await r.issue_credit_note(
        system, inst[0]["id"], cny("100.00"), "price reduction", issued_on=Q3_DAY
    )
    await ledger.recompute(system, "2026-Q3")
    assert [(x["kind"], x["amount_minor"]) for x in await _lines()] == [
        ("commission", 3000),
        ("clawback", -1000),
    ]


async def test_hooks_recompute_automatically(kehu, system, make_user, make_customer, make_plan):
    _, customer, _, _contract, inst = await _setup(
        system, make_user, make_customer, make_plan, "collected"
    )
    await r.record_payment(
        system, customer["id"], cny("100.00"), allocations=[(inst[0]["id"], cny("100.00"))]
    )
    [line] = await _lines()  # no explicit recompute: kehu_payment_allocated did it
    assert line["amount_minor"] == 1000
    assert line["period"] == periods.containing(date.today(), "quarter").key


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    paid=st.integers(2, 10**8),
    refund_share=st.integers(1, 100),
    rate=st.sampled_from(["0.1", "0.035", "0.12"]),
    backdated=st.booleans(),
)
async def test_refund_after_payout_claws_back_in_next_open_period(
    kehu, paid, refund_share, rate, backdated
):
    await truncate_all(kehu)
    from kehu.core.services import customers, users

    system = system_actor()
    rep = await users.create_user(system, {"username": "rep", "role": "sales"})
    customer = await customers.create_customer(system, {"name": "C", "owner": rep["id"]})
    plan = await plans.create_plan(
        system,
        {"name": "P", "basis": "collected", "rate": rate, "effective_from": date(2026, 1, 1)},
    )
    await plans.assign_plan(system, plan["id"], user_id=rep["id"])
    contract, _ = await signed_contract(system, customer, "10000000.00")
    pay = await r.record_payment(
        system, customer["id"], Money(paid, "CNY"), received_on=Q3_DAY, contract_id=contract["id"]
    )
    await ledger.recompute(system, "2026-Q3")
    await ledger.run_payout(system, "2026-Q3")
    paid_out = sum(x["amount_minor"] for x in await _lines())
    refund = max(1, paid * refund_share // 100)
    day = date(2026, 9, 30) if backdated else date.today()
    await r.refund_payment(
        system, pay.payment["id"], Money(refund, "CNY"), "returned", issued_on=day
    )
    for _ in range(2):  # idempotent
        await ledger.recompute(system, "2026-Q3")
        await ledger.recompute(system, periods.containing(date.today(), "quarter").key)
    lines = await _lines()
    q3 = [x for x in lines if x["period"] == "2026-Q3"]
    later = [x for x in lines if x["period"] != "2026-Q3"]
    assert sum(x["amount_minor"] for x in q3) == paid_out  # the paid period never changes
    expected = Money(refund, "CNY").multiply(rate).minor
    assert sum(x["amount_minor"] for x in later) == -expected
    assert all(x["kind"] == "clawback" and x["period"] == "2026-Q4" for x in later)
    net = Money(paid, "CNY").multiply(rate).minor - expected
    assert sum(x["amount_minor"] for x in lines) == net
