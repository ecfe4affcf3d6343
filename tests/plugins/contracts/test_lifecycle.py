"""Contract lifecycle: drafting, mandatory clauses, state machine, approvals, credit checks,
amendments, disputes, milestones and risk flags."""

import json
from datetime import date, timedelta

import pytest

from kehu.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kehu.core.money import Money
from kehu.core.tables import AuditLog
from kehu.plugins.contracts import services
from kehu.plugins.contracts.services import TRANSITIONS
from kehu.plugins.contracts.tables import ContractStatus, ContractVersion

from .conftest import CLAUSES, cny, lines


async def test_total_is_exact_and_numbers_are_generated(kehu, system, make_customer):
    acme = await make_customer()
    a = await services.create_contract(
        system,
        acme["id"],
        {
            **CLAUSES,
            "lines": [
                {
                    "product": "Pen",
                    "specification": "Blue",
                    "quantity": 3,
                    "unit_price": cny("0.10"),
                },
                {
                    "product": "Ink",
                    "specification": "1l",
                    "quantity": 7,
                    "unit_price": cny("19.99"),
                },
            ],
        },
    )
    b = await services.create_contract(system, acme["id"], {"title": "Empty"})
    assert a["total_minor"] == 3 * 10 + 7 * 1999 == 14023
    year = date.today().year
    assert (a["number"], b["number"]) == (f"HT-{year}-00001", f"HT-{year}-00002")
    assert (a["status"], a["currency"]) == ("draft", "CNY")
    stored = (await services.lines_by_contract([a["id"]]))[a["id"]]
    assert [ln["amount_minor"] for ln in stored] == [30, 13993]


async def test_currency_mismatch_and_bad_terms_are_rejected(kehu, system, make_customer):
    acme = await make_customer()
    with pytest.raises(ValidationFailed) as exc:
        await services.create_contract(
            system,
            acme["id"],
            {
                "currency": "USD",
                "payment_terms": "30/60",
                "lines": [
                    {"product": "X", "specification": "Y", "quantity": 1, "unit_price": cny("1")}
                ],
            },
        )
    codes = {(e.field, e.code) for e in exc.value.errors}
    assert codes == {("lines[0].unitPrice", "CURRENCY_MISMATCH"), ("paymentTerms", "INVALID_TERMS")}


async def test_submission_lists_every_missing_clause(kehu, system, make_customer):
    acme = await make_customer()
    row = await services.create_contract(
        system,
        acme["id"],
        {"lines": [{"product": "Pen", "specification": "", "quantity": 0, "unit_price": cny("0")}]},
    )
    with pytest.raises(ValidationFailed) as exc:
        await services.submit_contract(system, row["id"])
    assert {e.field for e in exc.value.errors} == {
        "lines[0].specification",
        "lines[0].quantity",
        "lines[0].unitPrice",
        "deliveryDeadline",
        "paymentMethod",
        "breachLiability",
    }
    assert {e.code for e in exc.value.errors} == {"MISSING_CLAUSE"}
    empty = await services.create_contract(system, acme["id"], {})
    with pytest.raises(ValidationFailed) as exc:
        await services.submit_contract(system, empty["id"])
    assert "lines" in {e.field for e in exc.value.errors}
    assert (await services.get_contract(system, row["id"]))["status"] == "draft"


async def test_illegal_transitions_are_typed_errors(kehu, system, make_customer, make_contract):
    acme = await make_customer()
    draft = await make_contract(acme)
    for call in (services.start_execution, services.complete_contract):
        with pytest.raises(ValidationFailed) as exc:
            await call(system, draft["id"])
        assert exc.value.errors[0].code == "INVALID_TRANSITION"
        assert "from draft to" in exc.value.errors[0].message
    with pytest.raises(ValidationFailed) as exc:
        await services.sign_contract(system, draft["id"])
    assert exc.value.errors[0].message == "Cannot move a contract from draft to signed"
    done = await make_contract(acme, "in_execution")
    done = await services.complete_contract(system, done["id"])
    with pytest.raises(ValidationFailed) as exc:
        await services.terminate_contract(system, done["id"], "too late")
    assert exc.value.errors[0].code == "INVALID_TRANSITION"
    # the table itself: terminal states have no way out, every state is reachable
    assert TRANSITIONS[ContractStatus.completed] == TRANSITIONS[ContractStatus.terminated] == set()
    reachable = set().union(*TRANSITIONS.values()) | {ContractStatus.draft}
    assert reachable == set(ContractStatus)


async def test_every_transition_is_audited(kehu, system, make_customer, make_contract):
    acme = await make_customer()
    row = await make_contract(acme, "in_execution")
    row = await services.complete_contract(system, row["id"])
    audit = (
        await AuditLog.select(AuditLog.before, AuditLog.after)
        .where(
            AuditLog.entity == "contract",
            AuditLog.action == "transitioned",
            AuditLog.entity_id == row["id"],
        )
        .order_by(AuditLog.id)
    )
    steps = [
        (a["before"]["status"], a["after"]["status"])
        for a in [
            {k: json.loads(v) if isinstance(v, str) else v for k, v in r.items()} for r in audit
        ]
    ]
    assert steps == [
        ("draft", "pending_approval"),
        ("pending_approval", "approved"),
        ("approved", "signed"),
        ("signed", "in_execution"),
        ("in_execution", "completed"),
    ]
    assert row["version"] == 8  # five transitions + two approval steps + created


async def test_approval_chain_roles_and_rejection(
    kehu, system, make_user, make_customer, make_contract
):
    manager = await make_user("manager", team="North")
    finance = await make_user("finance")
    sales = await make_user("sales", team="North")
    acme = await make_customer(owner=sales)
    row = await make_contract(acme, "pending_approval", actor=sales.actor)
    with pytest.raises(Forbidden):
        await services.decide_approval(sales.actor, row["id"], True)
    with pytest.raises(ValidationFailed) as exc:  # step 1 is the department head's
        await services.decide_approval(finance.actor, row["id"], True)
    assert exc.value.errors[0].code == "WRONG_APPROVER"
    with pytest.raises(ValidationFailed) as exc:
        await services.decide_approval(manager.actor, row["id"], False, "")
    assert exc.value.errors[0].field == "comment"
    row = await services.decide_approval(manager.actor, row["id"], True, "fine")
    assert row["status"] == "pending_approval" and row["approval_step"] == 1
    row = await services.decide_approval(system, row["id"], True, "legal ok")  # legal = admin
    row = await services.decide_approval(finance.actor, row["id"], False, "price too low")
    assert row["status"] == "draft"
    steps = (await services.approvals_by_contract([row["id"]]))[row["id"]]
    assert [(s["name"], s["decision"], s["comment"]) for s in steps] == [
        ("department_head", "approved", "fine"),
        ("legal", "approved", "legal ok"),
        ("finance", "rejected", "price too low"),
    ]
    # resubmission opens a new round
    await services.submit_contract(sales.actor, row["id"])
    for actor in (manager.actor, system, finance.actor):
        row = await services.decide_approval(actor, row["id"], True, "ok")
    assert row["status"] == "approved"
    steps = (await services.approvals_by_contract([row["id"]]))[row["id"]]
    assert [s["round"] for s in steps] == [1, 1, 1, 2, 2, 2]
    assert await AuditLog.count().where(AuditLog.entity == "contract_approval") == 6


async def test_draft_edits_and_versions(kehu, system, make_customer, make_contract):
    acme = await make_customer()
    row = await make_contract(acme)
    with pytest.raises(Conflict):
        await services.update_contract(system, row["id"], 99, {"title": "x"})
    row = await services.update_contract(
        system, row["id"], row["version"], {"lines": lines("10.00", "0.01", quantity=3)}
    )
    assert row["total_minor"] == 3003
    row = await make_contract(acme, "signed")
    with pytest.raises(ValidationFailed) as exc:
        await services.update_contract(system, row["id"], row["version"], {"title": "x"})
    assert exc.value.errors[0].code == "NOT_EDITABLE"


async def test_credit_limit_and_high_risk_need_an_audited_override(
    kehu, system, make_user, make_customer, make_contract
):
    sales = await make_user("sales", team="North")
    finance = await make_user("finance")
    acme = await make_customer(owner=sales)
    await services.set_credit_profile(finance.actor, acme["id"], limit=cny("1500"), rating="B")
    first = await make_contract(acme, "signed", prices=("1000.00",))  # exposure 1000 ≤ 1500
    second = await make_contract(acme, "approved", prices=("600.00",), actor=sales.actor)
    status = await services.credit_status(sales.actor, acme["id"])
    assert status.exposure == cny("1600") and status.unsigned_approved == cny("600")
    with pytest.raises(ValidationFailed) as exc:
        await services.sign_contract(sales.actor, second["id"])
    assert exc.value.errors[0].code == "CREDIT_LIMIT_EXCEEDED"
    with pytest.raises(Forbidden):
        await services.sign_contract(sales.actor, second["id"], override_reason="Big client")
    row = await services.sign_contract(finance.actor, second["id"], override_reason="Big client")
    assert row["status"] == "signed" and row["credit_override_reason"] == "Big client"
    audit = await AuditLog.select().where(AuditLog.action == "credit_override").first()
    after = audit["after"] if isinstance(audit["after"], dict) else json.loads(audit["after"])
    assert after["codes"] == ["CREDIT_LIMIT_EXCEEDED"] and after["reason"] == "Big client"
    assert audit["actor"] == finance.id
    # high risk rating
    await services.set_credit_profile(system, acme["id"], limit=cny("100000"), rating="D")
    third = await make_contract(acme, "approved")
    with pytest.raises(ValidationFailed) as exc:
        await services.sign_contract(system, third["id"])
    assert [e.code for e in exc.value.errors] == ["HIGH_RISK_CUSTOMER"]
    with pytest.raises(ValidationFailed):
        await services.set_credit_profile(system, acme["id"], limit=cny("1"), rating="Z")
    with pytest.raises(Forbidden):
        await services.set_credit_profile(sales.actor, acme["id"], limit=cny("1"), rating="A")
    assert first["status"] == "signed"


async def test_amendments_keep_versions_with_a_diff(
    kehu, system, make_user, make_customer, make_contract
):
    acme = await make_customer()
    row = await make_contract(acme, "in_execution")
    with pytest.raises(ValidationFailed) as exc:
        await services.request_amendment(system, row["id"], {"lines": []}, "cheaper")
    assert exc.value.errors[0].code == "NOT_AMENDABLE"
    new_deadline = date(2026, 6, 30)
    amendment = await services.request_amendment(
        system, row["id"], {"delivery_deadline": new_deadline}, "Supplier delay"
    )
    assert "pending_change" in (await services.risk_flags([row["id"]]))[row["id"]]
    with pytest.raises(ValidationFailed) as exc:
        await services.request_amendment(system, row["id"], {"title": "x"}, "again")
    assert exc.value.errors[0].code == "AMENDMENT_PENDING"
    await services.decide_amendment(system, amendment["id"], True, "agreed")
    contract = await services.get_contract(system, row["id"])
    assert contract["delivery_deadline"] == new_deadline
    versions = (
        await ContractVersion.select()
        .where(ContractVersion.contract == row["id"])
        .order_by(ContractVersion.number)
    )
    assert [v["number"] for v in versions] == [1, 2]
    changes = versions[1]["changes"]
    changes = json.loads(changes) if isinstance(changes, str) else changes
    assert changes == {"delivery_deadline": {"before": "2026-03-01", "after": "2026-06-30"}}
    draft = await make_contract(acme)
    with pytest.raises(ValidationFailed):
        await services.request_amendment(system, draft["id"], {"title": "x"}, "no")


async def test_disputes_milestones_and_risk_flags(kehu, system, make_customer, make_contract):
    acme = await make_customer()
    row = await make_contract(acme, "in_execution", signed_on=date.today())
    late = await services.add_milestone(
        system, row["id"], "delivery", "Ship", date.today() - timedelta(days=1)
    )
    await services.add_milestone(
        system, row["id"], "acceptance", "Accept", date.today() + timedelta(days=10)
    )
    assert (await services.risk_flags([row["id"]]))[row["id"]] == ["delivery_delay"]
    await services.complete_milestone(system, late["id"], date.today())
    dispute = await services.open_dispute(
        system, row["id"], kind="quality", amount=Money(5000, "CNY"), legal_involved=True
    )
    assert (await services.get_contract(system, row["id"]))["status"] == "disputed"
    assert (await services.risk_flags([row["id"]]))[row["id"]] == ["dispute"]
    await services.resolve_dispute(system, dispute["id"], "Replaced the goods")
    assert (await services.get_contract(system, row["id"]))["status"] == "in_execution"
    with pytest.raises(ValidationFailed):
        await services.resolve_dispute(system, dispute["id"], "again")


async def test_visibility_follows_owner_and_customer(
    kehu, system, make_user, make_customer, make_contract
):
    rep = await make_user("sales", team="North")
    other = await make_user("sales", team="North")
    manager = await make_user("manager", team="North")
    south = await make_user("manager", team="South")
    mine = await make_contract(await make_customer("Mine", owner=rep), actor=rep.actor)
    theirs = await make_contract(await make_customer("Theirs", owner=other), actor=other.actor)
    ids = {r["id"] for r in (await services.list_contracts(rep.actor)).rows}
    assert ids == {mine["id"]}
    with pytest.raises(NotFound):
        await services.get_contract(rep.actor, theirs["id"])
    assert {r["id"] for r in (await services.list_contracts(manager.actor)).rows} == {
        mine["id"],
        theirs["id"],
    }
    assert (await services.list_contracts(south.actor)).rows == []
    assert await services.count_contracts(rep.actor) == 1
    with pytest.raises(NotFound):  # a rep cannot draft for a customer they cannot see
        await services.create_contract(rep.actor, theirs["customer"], {})


async def test_suggested_rating_from_payment_history(kehu, system, make_customer, make_contract):
    from kehu.plugins.contracts import services as r

    today = date.today()
    good, late, bad = [await make_customer(n) for n in ("Good", "Late", "Bad")]
    statuses = {}
    for customer, paid_on in ((good, today - timedelta(days=200)), (late, today)):
        row = await make_contract(
            customer, "signed", payment_terms="100", signed_on=today - timedelta(days=200)
        )
        (inst,) = (await r.installments_by_contract([row["id"]]))[row["id"]]
        await r.record_payment(
            system,
            customer["id"],
            cny("1000"),
            received_on=paid_on,
            allocations=[(inst["id"], cny("1000"))],
        )
    await make_contract(bad, "signed", signed_on=today - timedelta(days=120))
    for c in (good, late, bad):
        statuses[c["name"]] = await services.credit_status(system, c["id"])
    assert (statuses["Good"].paid_on_time, statuses["Good"].paid_late) == (1, 0)
    assert {k: v.suggested_rating for k, v in statuses.items()} == {
        "Good": "A",
        "Late": "C",
        "Bad": "D",
    }
    assert statuses["Bad"].overdue_90 == cny("300")  # the 30% due at signing
