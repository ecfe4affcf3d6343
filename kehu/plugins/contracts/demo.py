"""Deterministic demo data: contracts in every state, schedules, invoices when installments
fall due, partial and late payments, some overdue, and a renewal story — one customer's
contract ended and was renewed, another's ended without renewal. Dates are relative to today,
so every contracts metric has data in its default period (the last 30 days). Idempotent (does
nothing when demo contracts exist)."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.tables import Customer, User
from kehu.plugins.contracts import services as r
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
RENEWED, LAPSED = 12, 13  # customers whose previous contract term ended in the last 30 days


@dataclass(frozen=True)
class Cast:
    """Who does what: the customer's owner sells, the owner's team manager, ``admin``
    (legal) and ``zhoumin`` (finance) approve, ``zhoumin`` records payments; the system actor
    stands in for any demo user that does not exist."""

    system: Actor
    actors: dict[int, Actor]
    finance: Actor
    legal: Actor

    def seller(self, owner_id: int | None) -> Actor:
        owner = self.actors.get(owner_id) if owner_id is not None else None
        return owner if owner is not None and owner.can("contract:write") else self.system

    def head(self, owner_id: int | None) -> Actor:
        owner = self.actors.get(owner_id) if owner_id is not None else None
        managers = {a.team_id: a for a in self.actors.values() if a.role == "manager"}
        return managers.get(owner.team_id if owner else None, self.system)


async def _actors(users: dict[str, Any]) -> dict[int, Actor]:
    """Actors of the demo users by id (empty when no demo users were given)."""
    from kehu.core.services.users import actor_for

    ids = [i for i in users.values() if i is not None]
    if not ids:
        return {}
    rows = await User.select().where(User.id.is_in(ids), User.active.eq(True))
    return {r["id"]: actor_for(r) for r in rows}


def _terms(n: int, title: str, start: date, end: date) -> dict[str, Any]:
    return {
        **CLAUSES,
        "title": title,
        "delivery_deadline": start + timedelta(days=60),
        "start_date": start,
        "end_date": end,
        "renewal_date": end - timedelta(days=30),
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


async def _contract(
    cast: Cast,
    customer: dict[str, Any],
    n: int,
    data: dict[str, Any],
    state: str,
    signed_on: date,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A contract drafted by the customer's owner and moved up to ``state`` (signed states:
    credit profile, signature on ``signed_on``, delivery milestone); its installments."""
    if customer["owner"] is not None:
        data["owner"] = customer["owner"]
    seller = cast.seller(customer["owner"])
    row = await s.create_contract(seller, customer["id"], data)
    if state == "draft":
        return row, []
    await s.submit_contract(seller, row["id"])
    if state == "pending_approval":
        return row, []
    for approver, note in (
        (cast.head(customer["owner"]), "同意 Approved"),
        (cast.legal, "法务审核通过 Legal OK"),
        (cast.finance, "财务同意 Finance OK"),
    ):
        await s.decide_approval(approver, row["id"], True, note)
    if state == "approved":
        return row, []
    await s.set_credit_profile(
        cast.finance if cast.finance.can("credit:manage") else cast.system,
        customer["id"],
        limit=Money(10_000_000_00, "CNY"),
        rating="ABCD"[n % 3],
    )
    await s.sign_contract(seller, row["id"], signed_on=signed_on)
    await s.add_milestone(seller, row["id"], "delivery", "Delivery", data["delivery_deadline"])
    return row, (await r.installments_by_contract([row["id"]]))[row["id"]]


async def _invoice_due(cast: Cast, row: dict[str, Any], installments: list[dict]) -> None:
    """Invoice (开票) every installment that has fallen due, on its due date."""
    for inst in installments:
        if inst["due_date"] <= s.today():
            await r.issue_invoice(
                cast.finance, row["id"], installment_id=inst["id"], issued_on=inst["due_date"]
            )


async def _pay(
    cast: Cast, customer: dict[str, Any], parts: list[tuple[dict, int]], on: date, ref: str
) -> None:
    """One payment received on ``on`` (never after today) allocated to the installments."""
    total = sum(minor for _, minor in parts)
    await r.record_payment(
        cast.finance,
        customer["id"],
        Money(total, "CNY"),
        method="bank_transfer" if len(parts) == 1 else "cheque",
        received_on=min(on, s.today()),
        reference=ref,
        allocations=[(inst["id"], Money(minor, "CNY")) for inst, minor in parts],
        idempotency_key=f"demo-payment-{ref}",
    )


async def _lifecycle(cast: Cast, customer: dict[str, Any], n: int, state: str, start: date) -> None:
    """Demo contract ``n``: signed on ``start``; the first installment paid (half of it for
    even ``n``) 20 days in; executing contracts pay the second 5 days late, completed ones
    pay everything left by day 130."""
    data = _terms(n, f"Demo supply contract {n + 1}", start, start + timedelta(days=365))
    row, installments = await _contract(cast, customer, n, data, state, start)
    if state in ("draft", "pending_approval", "approved"):
        return
    seller = cast.seller(customer["owner"])
    if state == "terminated":
        await s.terminate_contract(seller, row["id"], "Customer cancelled the project")
        return
    await _invoice_due(cast, row, installments)
    first, rest = installments[0], installments[1:]
    paid = first["amount_minor"] if n % 2 else first["amount_minor"] // 2
    await _pay(cast, customer, [(first, paid)], start + timedelta(days=20), f"{n + 1}")
    if state == "signed":
        return
    await s.start_execution(seller, row["id"])
    if state == "disputed":
        await s.open_dispute(
            seller,
            row["id"],
            kind="quality",
            description="Late delivery",
            amount=Money(5_000_00, "CNY"),
        )
    elif state == "in_execution" and rest[0]["due_date"] + timedelta(days=5) <= s.today():
        second = rest[0]
        await _pay(
            cast,
            customer,
            [(second, second["amount_minor"])],
            second["due_date"] + timedelta(days=5),
            f"{n + 1}-B",
        )
    elif state == "completed":
        parts = [(i, i["amount_minor"]) for i in rest]
        if paid < first["amount_minor"]:
            parts.insert(0, (first, first["amount_minor"] - paid))
        await _pay(cast, customer, parts, start + timedelta(days=130), f"{n + 1}-B")
        await s.complete_contract(seller, row["id"])


async def _previous_term(cast: Cast, customer: dict[str, Any], n: int, end: date) -> None:
    """A year-long contract ending on ``end``, invoiced and paid in full, completed."""
    start = end - timedelta(days=365)
    data = _terms(n, f"Demo service contract {n + 1} (previous term)", start, end)
    row, installments = await _contract(cast, customer, n, data, "signed", start)
    await _invoice_due(cast, row, installments)
    parts = [(i, i["amount_minor"]) for i in installments]
    await _pay(cast, customer, parts, start + timedelta(days=130), f"{n + 1}-P")
    seller = cast.seller(customer["owner"])
    await s.start_execution(seller, row["id"])
    await s.complete_contract(seller, row["id"])


async def _renewal(cast: Cast, customer: dict[str, Any], n: int, start: date) -> None:
    """The renewal (续约) starting the day after the previous term, signed four days earlier;
    its first installment invoiced and half paid."""
    data = _terms(n, f"Demo service contract {n + 1} (renewal)", start, start + timedelta(days=365))
    signed_on = start - timedelta(days=4)
    row, installments = await _contract(cast, customer, n, data, "signed", signed_on)
    await _invoice_due(cast, row, installments)
    first = installments[0]
    await _pay(
        cast,
        customer,
        [(first, first["amount_minor"] // 2)],
        signed_on + timedelta(days=10),
        f"{n + 1}-R",
    )


async def load_demo_data(actor: Actor, users: dict[str, Any]) -> int:
    """Contracts for the first demo customers, written by the demo users where they exist."""
    if await Contract.exists().where(Contract.title.like("Demo %")):
        return 0
    actors = await _actors(users)
    cast = Cast(
        actor,
        actors,
        actors.get(users.get("zhoumin"), actor),
        actors.get(users.get("admin"), actor),
    )
    customers = (
        await Customer.select(Customer.id, Customer.owner)
        .where(Customer.archived_at.is_null())
        .order_by(Customer.id)
        .limit(max(RENEWED, LAPSED) + 1)
    )
    base = s.today() - timedelta(days=200)
    for n, (customer, state) in enumerate(zip(customers, STATES, strict=False)):
        await _lifecycle(cast, customer, n, state, base + timedelta(days=15 * n))
    if len(customers) > LAPSED:
        renewed_end = s.today() - timedelta(days=12)
        await _previous_term(cast, customers[RENEWED], RENEWED, renewed_end)
        await _renewal(cast, customers[RENEWED], RENEWED, renewed_end + timedelta(days=1))
        await _previous_term(cast, customers[LAPSED], LAPSED, s.today() - timedelta(days=20))
    return len(customers)
