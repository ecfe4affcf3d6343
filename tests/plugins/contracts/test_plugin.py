"""Plugin integration: published hooks (after commit), merges, timeline, demo data."""

import pytest

from kehu import hookimpl
from kehu.core.errors import ValidationFailed
from kehu.core.services import customers
from kehu.core.services.timeline import customer_timeline
from kehu.core.tables import AuditLog
from kehu.plugins.contracts import services
from kehu.plugins.contracts import services as r
from kehu.plugins.contracts.tables import (
    Contract,
    ContractApproval,
    CreditProfile,
    Installment,
    Payment,
)

from .conftest import cny


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    @hookimpl
    def kehu_contract_signed(self, contract_id, customer_id, number, total):
        self.calls.append(("signed", number, total))

    @hookimpl
    def kehu_invoice_issued(self, invoice_id, contract_id, customer_id, amount):
        self.calls.append(("invoice", amount))

    @hookimpl
    async def kehu_payment_received(self, payment_id, customer_id, amount, method):
        self.calls.append(("received", amount, method))

    @hookimpl
    def kehu_payment_allocated(self, payment_id, installment_id, contract_id, customer_id, amount):
        self.calls.append(("allocated", amount))

    @hookimpl
    def kehu_refund_issued(self, payment_id, customer_id, amount):
        self.calls.append(("refund", amount))


@pytest.fixture
def recorder(kehu):
    rec = Recorder()
    kehu.pm.register(rec, name="contracts-recorder")
    yield rec
    kehu.pm.unregister(name="contracts-recorder")


async def test_published_hooks_run_after_commit(
    kehu, system, recorder, make_customer, make_contract
):
    acme = await make_customer()
    row = await make_contract(acme, "signed", prices=("100.00",))
    first = (await r.installments_by_contract([row["id"]]))[row["id"]][0]
    await r.issue_invoice(system, row["id"], installment_id=first["id"])
    pay = await r.record_payment(
        system,
        acme["id"],
        cny("50"),
        method="cash",
        allocations=[(first["id"], cny("30"))],
        idempotency_key="k",
    )
    await r.record_payment(
        system,
        acme["id"],
        cny("50"),
        method="cash",
        allocations=[(first["id"], cny("30"))],
        idempotency_key="k",
    )
    await r.refund_payment(system, pay.payment["id"], cny("20"), "overpaid")
    with pytest.raises(ValidationFailed):  # rolled back: no hook
        await r.record_payment(
            system, acme["id"], cny("50"), allocations=[(first["id"], cny("50"))]
        )
    assert recorder.calls == [
        ("signed", row["number"], cny("100")),
        ("invoice", cny("30")),
        ("received", cny("50"), "cash"),
        ("allocated", cny("30")),
        ("refund", cny("20")),
    ]


async def test_merge_repoints_contracts_and_receivables(kehu, system, make_customer, make_contract):
    survivor, merged = await make_customer("ACME"), await make_customer("ACME Ltd")
    row = await make_contract(merged, "signed")
    await services.set_credit_profile(system, merged["id"], limit=cny("10"), rating="C")
    inst = (await r.installments_by_contract([row["id"]]))[row["id"]][0]
    await r.record_payment(system, merged["id"], cny("5"), allocations=[(inst["id"], cny("5"))])
    await customers.merge_customers(system, survivor["id"], merged["id"])
    assert await Contract.count().where(Contract.customer == survivor["id"]) == 1
    assert await Installment.count().where(Installment.customer == merged["id"]) == 0
    assert await Payment.count().where(Payment.customer == survivor["id"]) == 1
    profile = await CreditProfile.select().where(CreditProfile.customer == survivor["id"]).first()
    assert profile["rating"] == "C"
    assert (await r.aging(system, customer_id=survivor["id"]))[0].total == 100000 - 500


async def test_handover_moves_open_contracts(kehu, system, make_user, make_customer, make_contract):
    old = await make_user("sales", team="North")
    new = await make_user("sales", team="South")
    acme = await make_customer(owner=old)
    open_one = await make_contract(acme, "signed", actor=old.actor)
    done = await make_contract(acme, "in_execution", actor=old.actor)
    await services.complete_contract(system, done["id"])
    await customers.reassign_customers(system, new.id, from_user_id=old.id)
    rows = {r["id"]: r for r in await Contract.select()}
    assert (rows[open_one["id"]]["owner"], rows[open_one["id"]]["team"]) == (new.id, new.team_id)
    assert rows[done["id"]]["owner"] == old.id  # history stays with the old owner
    assert [r["id"] for r in (await services.list_contracts(new.actor)).rows] == [open_one["id"]]


async def test_timeline_shows_contracts_and_payments(kehu, system, make_customer, make_contract):
    acme = await make_customer()
    row = await make_contract(acme, "signed", prices=("100.00",))
    await r.record_payment(system, acme["id"], cny("12.34"), method="cheque")
    page = await customer_timeline(system, acme["id"], first=10)
    kinds = [e.kind for e in page.entries]
    assert sorted(kinds) == ["contract.created", "contract.signed", "payment.received"]
    titles = " | ".join(e.title for e in page.entries)
    assert row["number"] in titles and "12.34 CNY" in titles


async def test_demo_data_is_idempotent(kehu, system):
    from kehu.core.demo import load_demo

    users = await load_demo(kehu, system)
    assert "zhoumin" in users
    count = await Contract.count()
    statuses = {x["status"] for x in await Contract.select(Contract.status)}
    assert statuses == {
        "draft",
        "pending_approval",
        "approved",
        "signed",
        "in_execution",
        "completed",
        "terminated",
        "disputed",
    }
    assert await Payment.count() > 0
    aging = await r.aging(system, group_by="none")
    assert aging and any(v for k, v in aging[0].buckets.items() if k != "current")
    finance = await ContractApproval.select(ContractApproval.decided_by).where(
        ContractApproval.name == "finance", ContractApproval.decision == "approved"
    )
    assert {a["decided_by"] for a in finance} == {users["zhoumin"]}
    assert {p["created_by"] for p in await Payment.select(Payment.created_by)} == {users["zhoumin"]}
    await load_demo(kehu, system)
    assert await Contract.count() == count
    assert await AuditLog.count().where(AuditLog.action == "transitioned") > 0
