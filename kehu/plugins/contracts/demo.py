"""Deterministic demo data: contracts in every state, schedules, partial payments, some
overdue. Idempotent (does nothing when demo contracts exist)."""

from datetime import timedelta
from typing import Any

from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.tables import Customer, User
from kehu.plugins.contracts import receivables as r
from kehu.plugins.contracts import services as s
from kehu.plugins.contracts.tables import Contract

CLAUSES = {
    "payment_method": "bank_transfer",
    "breach_liability": "违约方按合同总额的 10% 支付违约金 / 10% of the total as damages",
    "acceptance_terms": "到货后 15 日内验收 / acceptance within 15 days of delivery",
    "after_sales_terms": "一年免费保修 / one year free warranty",
}
STATES = [
    "draft",
    "pending_approval",
    "approved",
    "signed",
    "in_execution",
    "completed",
    "terminated",
    "disputed",
    "in_execution",
    "signed",
    "in_execution",
    "completed",
]


async def _actors(users: dict[str, Any]) -> dict[int, Actor]:
    """Actors of the demo users by id (empty when no demo users were given)."""
    from kehu.core.services.users import actor_for

    ids = [i for i in users.values() if i is not None]
    if not ids:
        return {}
    rows = await User.select().where(User.id.is_in(ids), User.active.eq(True))
    return {r["id"]: actor_for(r) for r in rows}


async def load_demo_data(actor: Actor, users: dict[str, Any]) -> int:
    """Contracts for the first demo customers, written by the demo users where they exist:
    the customer's owner drafts, the owner's team manager, ``admin`` (legal) and ``zhoumin``
    (finance) approve, ``zhoumin`` records the payments; the system actor otherwise."""
    if await Contract.exists().where(Contract.title.like("Demo %")):
        return 0
    actors = await _actors(users)
    managers = {a.team_id: a for a in actors.values() if a.role == "manager"}
    finance = actors.get(users.get("zhoumin"), actor)
    legal = actors.get(users.get("admin"), actor)
    customers = (
        await Customer.select(Customer.id, Customer.owner)
        .where(Customer.archived_at.is_null())
        .order_by(Customer.id)
        .limit(len(STATES))
    )
    base = s.today() - timedelta(days=200)
    for n, (customer, state) in enumerate(zip(customers, STATES, strict=False)):
        start = base + timedelta(days=15 * n)
        data = {
            **CLAUSES,
            "title": f"Demo supply contract {n + 1}",
            "delivery_deadline": start + timedelta(days=60),
            "start_date": start,
            "end_date": start + timedelta(days=365),
            "renewal_date": start + timedelta(days=335),
            "payment_terms": "30@0/40@60/30@120",
            "currency": "CNY",
            "lines": [
                {
                    "product": "Kehu CRM licence",
                    "specification": "Enterprise, 50 seats",
                    "quantity": 50,
                    "unit_price": Money(1_200_00 + 1_000 * n, "CNY"),
                },
                {
                    "product": "Implementation",
                    "specification": "On-site, 10 days",
                    "quantity": 10,
                    "unit_price": Money(3_000_00, "CNY"),
                },
            ],
        }
        if customer["owner"] is not None:
            data["owner"] = customer["owner"]
        owner = actors.get(customer["owner"])
        seller = owner if owner is not None and owner.can("contract:write") else actor
        row = await s.create_contract(seller, customer["id"], data)
        if state == "draft":
            continue
        await s.submit_contract(seller, row["id"])
        if state == "pending_approval":
            continue
        head = managers.get(owner.team_id if owner else None, actor)
        for approver, note in (
            (head, "同意 Approved"),
            (legal, "法务审核通过 Legal OK"),
            (finance, "财务同意 Finance OK"),
        ):
            await s.decide_approval(approver, row["id"], True, note)
        if state == "approved":
            continue
        await s.set_credit_profile(
            finance if finance.can("credit:manage") else actor,
            customer["id"],
            limit=Money(10_000_000_00, "CNY"),
            rating="ABCD"[n % 3],
        )
        await s.sign_contract(seller, row["id"], signed_on=start)
        await s.add_milestone(seller, row["id"], "delivery", "Delivery", start + timedelta(days=60))
        if state == "terminated":
            await s.terminate_contract(seller, row["id"], "Customer cancelled the project")
            continue
        installments = (await r.installments_by_contract([row["id"]]))[row["id"]]
        first = installments[0]
        await r.issue_invoice(finance, row["id"], installment_id=first["id"], issued_on=start)
        paid = first["amount_minor"] if n % 2 else first["amount_minor"] // 2  # some partial
        await r.record_payment(
            finance,
            customer["id"],
            Money(paid, "CNY"),
            method="bank_transfer",
            received_on=start + timedelta(days=20),
            reference=f"DEMO-{n + 1}",
            allocations=[(first["id"], Money(paid, "CNY"))],
            idempotency_key=f"demo-payment-{n + 1}",
        )
        if state == "signed":
            continue
        await s.start_execution(seller, row["id"])
        if state == "disputed":
            await s.open_dispute(
                seller,
                row["id"],
                kind="quality",
                description="Late delivery",
                amount=Money(5_000_00, "CNY"),
            )
        elif state == "completed":
            rest = installments[1:]
            total = sum(i["amount_minor"] for i in rest)
            if paid < first["amount_minor"]:
                rest = installments
                total += first["amount_minor"] - paid
            await r.record_payment(
                finance,
                customer["id"],
                Money(total, "CNY"),
                method="cheque",
                received_on=start + timedelta(days=130),
                reference=f"DEMO-{n + 1}-B",
                allocations=[
                    (i["id"], Money(i["amount_minor"] - (paid if i is first else 0), "CNY"))
                    for i in rest
                ],
                idempotency_key=f"demo-payment-{n + 1}-b",
            )
            await s.complete_contract(seller, row["id"])
    return len(customers)
