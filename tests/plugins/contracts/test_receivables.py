"""Receivables: schedules, invoices, payments and allocation (exact, never over-allocated,
idempotent, safe under concurrency), credits, refunds, write-offs, statements, aging,
provision and metrics."""

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core.errors import Forbidden, ValidationFailed
from kehu.core.money import Money
from kehu.core.testing import truncate_all
from kehu.plugins.contracts import services
from kehu.plugins.contracts import services as r
from kehu.plugins.contracts.tables import Allocation, Installment, Payment

from .conftest import cny

TODAY = date.today()


async def _installments(contract_id: int) -> list[dict]:
    return (await r.installments_by_contract([contract_id]))[contract_id]


def test_terms_parse_and_split_exactly():
    assert r.parse_terms("30/70") == [(Decimal(30), 0), (Decimal(70), 30)]
    assert r.parse_terms("30@0/60@45d/10@90") == [(30, 0), (60, 45), (10, 90)]
    for bad in ("30/60", "abc", "0/100", ""):
        with pytest.raises(ValidationFailed):
            r.parse_terms(bad)
    parts = r.schedule_from_terms(Money(100, "CNY"), "33.3/33.3/33.4", date(2026, 1, 1))
    assert [m.minor for _, m in parts] == [33, 33, 34]
    assert [d for d, _ in parts] == [date(2026, 1, 1), date(2026, 1, 31), date(2026, 3, 2)]


@given(total=st.integers(0, 10**12), pcts=st.lists(st.integers(1, 60), min_size=1, max_size=6))
def test_schedule_parts_always_sum_to_the_total(total, pcts):
    pcts[-1] += 100 - sum(pcts) if sum(pcts) < 100 else 0
    if sum(pcts) != 100:
        return
    parts = r.schedule_from_terms(Money(total, "CNY"), "/".join(map(str, pcts)), TODAY)
    assert sum(m.minor for _, m in parts) == total
    assert all(m.minor >= 0 for _, m in parts)


async def test_schedule_from_terms_on_signing_and_manual(
    kehu, system, make_customer, make_contract
):
    acme = await make_customer()
    row = await make_contract(acme, "signed", prices=("333.33",), signed_on=date(2026, 1, 10))
    inst = await _installments(row["id"])
    assert [(i["due_date"], i["amount_minor"]) for i in inst] == [
        (date(2026, 1, 10), 10000),
        (date(2026, 2, 9), 23333),
    ]
    with pytest.raises(ValidationFailed) as exc:
        await r.set_schedule(system, row["id"], [(date(2026, 5, 1), cny("333.32"))])
    assert exc.value.errors[0].code == "SCHEDULE_MISMATCH"
    inst = await r.set_schedule(
        system, row["id"], [(date(2026, 5, 1), cny("300")), (date(2026, 4, 1), cny("33.33"))]
    )
    assert [(i["seq"], i["amount_minor"]) for i in inst] == [(1, 3333), (2, 30000)]
    await r.record_payment(system, acme["id"], cny("1"), allocations=[(inst[0]["id"], cny("1"))])
    with pytest.raises(ValidationFailed) as exc:
        await r.generate_schedule(system, row["id"])
    assert exc.value.errors[0].code == "SCHEDULE_LOCKED"


async def test_partial_payment_over_several_installments(
    kehu, system, make_user, make_customer, make_contract
):
    finance = await make_user("finance")
    sales = await make_user("sales")
    acme = await make_customer()
    row = await make_contract(acme, "signed", prices=("1000.00",))
    first, second = await _installments(row["id"])  # 300.00 and 700.00
    with pytest.raises(Forbidden):
        await r.record_payment(sales.actor, acme["id"], cny("1"))
    result = await r.record_payment(
        finance.actor,
        acme["id"],
        cny("500.00"),
        method="cheque",
        reference="CHQ-1",
        allocations=[(first["id"], cny("300.00")), (second["id"], cny("150.50"))],
    )
    assert result.payment["allocated_minor"] == 45050
    first, second = await _installments(row["id"])
    assert (r.open_minor(first), r.open_minor(second)) == (0, 54950)
    # the remaining 49.50 is on account; allocate it later
    with pytest.raises(ValidationFailed) as exc:
        await r.allocate_payment(finance.actor, result.payment["id"], [(second["id"], cny("50"))])
    assert exc.value.errors[0].code == "EXCEEDS_PAYMENT"
    await r.allocate_payment(finance.actor, result.payment["id"], [(second["id"], cny("49.50"))])
    assert r.open_minor((await _installments(row["id"]))[1]) == 50000
    with pytest.raises(ValidationFailed) as exc:
        await r.record_payment(
            finance.actor, acme["id"], cny("600"), allocations=[(second["id"], cny("500.01"))]
        )
    assert [e.code for e in exc.value.errors] == ["OVER_ALLOCATION"]
    assert await Payment.count() == 1  # the failed payment was rolled back


async def test_allocation_to_unsigned_or_foreign_installments_fails(
    kehu, system, make_customer, make_contract
):
    acme, beta = await make_customer("ACME"), await make_customer("Beta")
    row = await make_contract(beta, "signed")
    inst = (await _installments(row["id"]))[0]
    with pytest.raises(ValidationFailed) as exc:
        await r.record_payment(system, acme["id"], cny("1"), allocations=[(inst["id"], cny("1"))])
    assert exc.value.errors[0].code == "NOT_FOUND"
    with pytest.raises(ValidationFailed) as exc:
        await r.record_payment(
            system,
            beta["id"],
            cny("2"),
            allocations=[(inst["id"], cny("1")), (inst["id"], cny("1"))],
        )
    assert exc.value.errors[0].code == "DUPLICATE_INSTALLMENT"
    with pytest.raises(ValidationFailed) as exc:
        await r.record_payment(
            system, beta["id"], Money(100, "USD"), allocations=[(inst["id"], Money(100, "USD"))]
        )
    assert exc.value.errors[0].code == "CURRENCY_MISMATCH"


async def test_idempotency_key_replays_the_same_payment(kehu, system, make_customer, make_contract):
    acme = await make_customer()
    row = await make_contract(acme, "signed")
    inst = (await _installments(row["id"]))[0]
    args = dict(allocations=[(inst["id"], cny("100"))], idempotency_key="bank-ref-42")
    one = await r.record_payment(system, acme["id"], cny("100"), **args)
    two = await r.record_payment(system, acme["id"], cny("100"), **args)
    assert two.replayed and not one.replayed
    assert two.payment["id"] == one.payment["id"]
    assert [a["id"] for a in two.allocations] == [a["id"] for a in one.allocations]
    assert await Payment.count() == 1 and await Allocation.count() == 1
    with pytest.raises(ValidationFailed) as exc:
        await r.record_payment(system, acme["id"], cny("101"), **args)
    assert exc.value.errors[0].code == "IDEMPOTENCY_KEY_REUSED"
    # concurrent retries of one request record it once
    results = await asyncio.gather(
        *[r.record_payment(system, acme["id"], cny("5"), idempotency_key="retry") for _ in range(4)]
    )
    assert len({x.payment["id"] for x in results}) == 1
    assert await Payment.count() == 2


async def test_concurrent_payments_never_over_allocate(kehu, system, make_customer, make_contract):
    acme = await make_customer()
    row = await make_contract(acme, "signed", prices=("100.00",), payment_terms="100")
    (inst,) = await _installments(row["id"])
    calls = [
        r.record_payment(system, acme["id"], cny("40"), allocations=[(inst["id"], cny("40"))])
        for _ in range(6)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    ok = [x for x in results if isinstance(x, r.PaymentResult)]
    failed = [x for x in results if isinstance(x, ValidationFailed)]
    assert len(ok) == 2 and len(failed) == 4, results
    assert all(f.errors[0].code == "OVER_ALLOCATION" for f in failed)
    (inst,) = await _installments(row["id"])
    assert inst["paid_minor"] == 8000
    total = await Allocation.raw("SELECT SUM(amount_minor) AS s FROM contracts_allocation")
    assert int(total[0]["s"]) == 8000
    # and credits racing payments still cannot push the open amount below zero
    calls = [
        r.record_payment(system, acme["id"], cny("15"), allocations=[(inst["id"], cny("15"))])
        for _ in range(2)
    ] + [r.write_off(system, inst["id"], "bad debt", cny("15")) for _ in range(2)]
    await asyncio.gather(*calls, return_exceptions=True)
    (inst,) = await _installments(row["id"])
    assert 0 <= r.open_minor(inst) <= 2000 and r.open_minor(inst) in (0, 500)


async def test_credit_notes_write_offs_and_refunds(kehu, system, make_customer, make_contract):
    acme = await make_customer()
    row = await make_contract(acme, "signed", prices=("1000.00",))
    first, second = await _installments(row["id"])
    await r.issue_credit_note(system, first["id"], cny("50"), "Discount for delay")
    with pytest.raises(ValidationFailed) as exc:
        await r.issue_credit_note(system, first["id"], cny("250.01"), "too much")
    assert exc.value.errors[0].code == "OVER_ALLOCATION"
    written = await r.write_off(system, second["id"], "Customer insolvent")
    assert written["amount_minor"] == 70000
    pay = await r.record_payment(
        system, acme["id"], cny("300"), allocations=[(first["id"], cny("250"))]
    )
    with pytest.raises(ValidationFailed) as exc:
        await r.refund_payment(system, pay.payment["id"], cny("50.01"), "overpaid")
    assert exc.value.errors[0].code == "EXCEEDS_PAYMENT"
    await r.refund_payment(system, pay.payment["id"], cny("50"), "overpaid")
    first, second = await _installments(row["id"])
    assert r.open_minor(first) == r.open_minor(second) == 0
    st_ = await r.statement(system, acme["id"], TODAY - timedelta(days=365), TODAY)
    assert (st_.invoices, st_.payments, st_.credits) == (0, 25000, 75000)
    assert st_.closing == -100000


async def test_invoices_and_statement(kehu, system, make_customer, make_contract):
    acme = await make_customer()
    row = await make_contract(acme, "signed", prices=("1000.00",))
    first, second = await _installments(row["id"])
    d = date(2026, 1, 1)
    await r.issue_invoice(system, row["id"], installment_id=first["id"], issued_on=d)
    await r.issue_invoice(
        system, row["id"], installment_id=second["id"], issued_on=d + timedelta(days=40)
    )
    with pytest.raises(ValidationFailed) as exc:
        await r.issue_invoice(system, row["id"], amount=cny("0.01"))
    assert exc.value.errors[0].code == "OVER_INVOICED"
    await r.record_payment(
        system,
        acme["id"],
        cny("300"),
        received_on=d + timedelta(days=10),
        allocations=[(first["id"], cny("300"))],
    )
    await r.record_payment(
        system,
        acme["id"],
        cny("200"),
        received_on=d + timedelta(days=45),
        allocations=[(second["id"], cny("200"))],
    )
    await r.issue_credit_note(
        system, second["id"], cny("20"), "Damaged box", issued_on=d + timedelta(days=50)
    )
    st_ = await r.statement(system, acme["id"], d + timedelta(days=30), d + timedelta(days=60))
    assert (st_.opening, st_.invoices, st_.payments, st_.credits, st_.closing) == (
        0,
        70000,
        20000,
        2000,
        48000,
    )
    assert [(ln.kind, ln.balance) for ln in st_.lines] == [
        ("invoice", 70000),
        ("payment", 50000),
        ("credit_note", 48000),
    ]
    with pytest.raises(ValidationFailed):
        await r.statement(system, acme["id"], d, d - timedelta(days=1))


async def test_aging_buckets_as_of_dates(kehu, system, make_user, make_customer, make_contract):
    rep = await make_user("sales", team="North")
    other = await make_user("sales", team="South")
    acme = await make_customer("ACME", owner=rep)
    beta = await make_customer("Beta", owner=other)
    as_of = date(2026, 6, 30)
    row = await make_contract(
        acme,
        "signed",
        prices=("1000.00",),
        payment_terms="100",
        signed_on=date(2026, 1, 1),
        actor=rep.actor,
    )
    await r.set_schedule(
        system,
        row["id"],
        [
            (as_of + timedelta(days=1), cny("100")),
            (as_of, cny("100")),
            (as_of - timedelta(days=1), cny("100")),
            (as_of - timedelta(days=30), cny("100")),
            (as_of - timedelta(days=31), cny("100")),
            (as_of - timedelta(days=90), cny("100")),
            (as_of - timedelta(days=91), cny("400")),
        ],
    )
    other_row = await make_contract(
        beta,
        "signed",
        prices=("50.00",),
        payment_terms="100",
        signed_on=date(2026, 1, 1),
        actor=other.actor,
    )
    inst = await _installments(row["id"])
    oldest = inst[0]
    await r.record_payment(
        system,
        acme["id"],
        cny("150"),
        received_on=as_of + timedelta(days=1),
        allocations=[(oldest["id"], cny("150"))],
    )
    (acme_row,) = await r.aging(rep.actor, as_of)
    assert acme_row.group == acme["id"]
    assert acme_row.buckets == {
        "current": 20000,
        "1-30": 20000,
        "31-60": 10000,
        "61-90": 10000,
        "90+": 40000,
    }  # the payment came later
    later = await r.aging(system, as_of + timedelta(days=1), customer_id=acme["id"])
    assert later[0].buckets["90+"] == 25000 + 10000  # 400 − 150 paid, plus the 90-day one
    everyone = await r.aging(system, as_of, group_by="none")
    assert everyone[0].total == 100000 + 5000 - 0
    by_owner = {x.group: x.total for x in await r.aging(system, as_of, group_by="owner")}
    assert by_owner == {rep.id: 100000, other.id: 5000}
    custom = await r.aging(system, as_of, customer_id=acme["id"], buckets=[60])
    assert custom[0].buckets == {"current": 20000, "1-60": 30000, "60+": 50000}
    assert other_row["status"] == "signed"
    assert await r.aging(system, date(2025, 12, 31)) == []  # before signing


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=st.lists(st.integers(1, 10**9), min_size=1, max_size=6),
    offsets=st.lists(st.integers(-120, 120), min_size=6, max_size=6),
    pays=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 10**9)), max_size=8),
    bounds=st.sampled_from([[30, 60, 90], [15], [1, 2, 3, 365]]),
)
async def test_property_allocations_aging_and_statement(kehu, amounts, offsets, pays, bounds):
    await truncate_all(kehu)
    from kehu.core.permissions import system_actor
    from kehu.core.services import customers

    system = system_actor()
    acme = await customers.create_customer(system, {"name": "P"}, allow_duplicate=True)
    total = sum(amounts)
    row = await services.create_contract(
        system,
        acme["id"],
        {
            "title": "P",
            "delivery_deadline": TODAY,
            "payment_method": "cash",
            "breach_liability": "x",
            "lines": [
                {
                    "product": "A",
                    "specification": "B",
                    "quantity": 1,
                    "unit_price": Money(total, "CNY"),
                }
            ],
        },
    )
    await services.submit_contract(system, row["id"])
    for _ in range(3):
        await services.decide_approval(system, row["id"], True)
    await services.sign_contract(system, row["id"], signed_on=TODAY - timedelta(days=200))
    inst = await r.set_schedule(
        system,
        row["id"],
        [(TODAY + timedelta(days=offsets[i]), Money(a, "CNY")) for i, a in enumerate(amounts)],
    )
    await r.issue_invoice(
        system, row["id"], amount=Money(total, "CNY"), issued_on=TODAY - timedelta(days=150)
    )
    for n, (idx, amount) in enumerate(pays):
        target = inst[idx % len(inst)]
        try:
            await r.record_payment(
                system,
                acme["id"],
                Money(amount, "CNY"),
                received_on=TODAY - timedelta(days=n * 7),
                allocations=[(target["id"], Money(amount, "CNY"))],
            )
        except ValidationFailed as exc:
            assert exc.errors[0].code == "OVER_ALLOCATION"
    rows = await Installment.select()
    assert all(0 <= x["paid_minor"] <= x["amount_minor"] for x in rows)
    for x in rows:
        allocated = await Allocation.select(Allocation.amount_minor).where(
            Allocation.installment == x["id"]
        )
        assert sum(a["amount_minor"] for a in allocated) == x["paid_minor"]
    open_total = sum(r.open_minor(x) for x in rows)
    aging = await r.aging(system, TODAY, buckets=bounds)
    assert sum(a.total for a in aging) == open_total  # buckets partition the open amount
    assert all(v >= 0 for a in aging for v in a.buckets.values())
    start = TODAY - timedelta(days=100)
    st_ = await r.statement(system, acme["id"], start, TODAY)
    assert st_.closing == st_.opening + st_.invoices - st_.payments - st_.credits
    assert st_.closing == total - sum(p["amount_minor"] for p in await Payment.select())
    whole = await r.statement(system, acme["id"], TODAY - timedelta(days=400), TODAY)
    assert whole.opening == 0 and whole.closing == st_.closing


async def test_provision_and_metrics(kehu, system, make_customer, make_contract):
    acme, beta = await make_customer("ACME"), await make_customer("Beta")
    await services.set_credit_profile(system, beta["id"], limit=cny("100000"), rating="C")
    as_of = date(2026, 6, 30)
    a = await make_contract(
        acme, "signed", prices=("1000.00",), payment_terms="100", signed_on=date(2026, 1, 1)
    )
    b = await make_contract(
        beta, "signed", prices=("333.33",), payment_terms="100", signed_on=date(2026, 1, 1)
    )
    await r.set_schedule(system, a["id"], [(as_of - timedelta(days=45), cny("1000"))])
    await r.set_schedule(system, b["id"], [(as_of - timedelta(days=100), cny("333.33"))])
    lines = {x.customer_id: x for x in await r.bad_debt_provision(system, as_of)}
    assert lines[acme["id"]].provision == 10000  # 1000.00 × 10% (31-60, rating B)
    assert lines[beta["id"]].rating == "C"
    assert lines[beta["id"]].provision == 30000  # 33333 × 0.9 = 29999.7 → half up
    assert await r.overdue_amount(system, as_of) == cny("1333.33")
    (ia,) = await _installments(a["id"])
    await r.issue_invoice(system, a["id"], amount=cny("1000"), issued_on=date(2026, 5, 1))
    await r.record_payment(
        system,
        acme["id"],
        cny("600"),
        received_on=date(2026, 6, 1),
        allocations=[(ia["id"], cny("600"))],
    )
    early = await r.collection_rate(system, date(2026, 5, 1), date(2026, 5, 31))
    assert early.due == cny("1000") and early.collected == cny("0")  # paid after the period
    rate = await r.collection_rate(system, date(2026, 5, 1), date(2026, 6, 30))
    assert rate.due == cny("1000") and rate.collected == cny("600")
    assert rate.rate == Decimal("0.6000")
    assert await r.dso(system, date(2026, 5, 1), date(2026, 6, 29)) == Decimal(
        "44.0"
    )  # (400.00 + 333.33) / 1000.00 × 60 days = 43.9998
    signing = await r.signing_rate(system, TODAY - timedelta(days=1), TODAY)
    assert (signing.submitted, signing.signed, signing.rate) == (2, 2, Decimal(1))
