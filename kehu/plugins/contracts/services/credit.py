"""Customer credit (信用): limits, terms and the credit status checked at signing."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kehu.core.errors import FieldError
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import now, raise_if
from kehu.core.services.customers import get_customer
from kehu.plugins.contracts.services.common import (
    RECEIVABLE_STATES,
    config,
    credit_profiles,
    lock,
    sql_date,
    today,
)
from kehu.plugins.contracts.tables import Contract, CreditProfile, Installment


@dataclass(frozen=True)
class CreditStatus:
    customer_id: int
    limit: Money | None
    rating: str
    exposure: Money
    open_receivables: Money
    overdue: Money
    unsigned_approved: Money
    paid_on_time: int
    paid_late: int
    overdue_90: Money

    @property
    def suggested_rating(self) -> str:
        """A rating from payment history, overdue amounts and the limit (advice for finance;
        the profile's ``rating`` is what counts): ``D`` anything more than 90 days overdue;
        ``C`` anything overdue or more installments paid late than on time; ``B`` some paid
        late, exposure above 80% of the limit, or no history; ``A`` otherwise."""
        if self.overdue_90.minor > 0:
            return "D"
        if self.overdue.minor > 0 or self.paid_late > self.paid_on_time:
            return "C"
        over_80 = self.limit is not None and self.exposure.minor * 5 > self.limit.minor * 4
        if self.paid_late or over_80 or not self.paid_on_time:
            return "B"
        return "A"

    @property
    def high_risk(self) -> bool:
        return self.rating in config().high_risk_ratings

    @property
    def available(self) -> Money | None:
        return None if self.limit is None else self.limit - self.exposure


async def credit_statuses(customer_ids: list[int], on: date | None = None) -> dict[int, Any]:
    """Credit status per customer in a fixed number of queries; amounts in the currency of
    the credit profile (or the default currency); other currencies are not counted."""
    on = on or today()
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    profiles = await credit_profiles(ids)
    marks = ", ".join("{}" for _ in ids)
    states = ", ".join(f"'{s.value}'" for s in RECEIVABLE_STATES)
    open_rows = await Installment.raw(
        "SELECT i.customer AS customer, i.currency AS currency, "
        "SUM(i.amount_minor - i.paid_minor - i.credited_minor) AS open, "
        "SUM(CASE WHEN i.due_date < {} THEN i.amount_minor - i.paid_minor - i.credited_minor "
        "ELSE 0 END) AS overdue, "
        "SUM(CASE WHEN i.due_date < {} THEN i.amount_minor - i.paid_minor - i.credited_minor "
        "ELSE 0 END) AS overdue_90 "
        "FROM contracts_installment i JOIN contracts_contract k ON k.id = i.contract "
        f"WHERE i.customer IN ({marks}) AND k.status IN ({states}) "
        "GROUP BY i.customer, i.currency",
        sql_date(on),
        sql_date(on - timedelta(days=90)),
        *ids,
    )
    unsigned = await Contract.raw(
        "SELECT customer, currency, SUM(total_minor) AS total FROM contracts_contract "
        f"WHERE customer IN ({marks}) AND status = 'approved' GROUP BY customer, currency",
        *ids,
    )
    history = await Installment.raw(
        "SELECT i.customer AS customer, "
        "SUM(CASE WHEN last_paid <= i.due_date THEN 1 ELSE 0 END) AS on_time, "
        "SUM(CASE WHEN last_paid > i.due_date THEN 1 ELSE 0 END) AS late "
        "FROM contracts_installment i JOIN (SELECT installment, MAX(applied_on) AS last_paid "
        "FROM contracts_allocation GROUP BY installment) a ON a.installment = i.id "
        f"WHERE i.customer IN ({marks}) AND i.paid_minor + i.credited_minor >= i.amount_minor "
        "GROUP BY i.customer",
        *ids,
    )
    hist = {r["customer"]: r for r in history}
    out = {}
    cfg = config()
    for cid in ids:
        profile = profiles.get(cid)
        currency = profile["currency"] if profile else cfg.default_currency
        opened = sum(
            int(r["open"] or 0)
            for r in open_rows
            if r["customer"] == cid and r["currency"] == currency
        )
        overdue = sum(
            int(r["overdue"] or 0)
            for r in open_rows
            if r["customer"] == cid and r["currency"] == currency
        )
        overdue_90 = sum(
            int(r["overdue_90"] or 0)
            for r in open_rows
            if r["customer"] == cid and r["currency"] == currency
        )
        pending = sum(
            int(r["total"] or 0)
            for r in unsigned
            if r["customer"] == cid and r["currency"] == currency
        )
        h = hist.get(cid, {})
        out[cid] = CreditStatus(
            customer_id=cid,
            limit=Money(profile["limit_minor"], currency) if profile else None,
            rating=profile["rating"] if profile else cfg.default_rating,
            exposure=Money(opened + pending, currency),
            open_receivables=Money(opened, currency),
            overdue=Money(overdue, currency),
            unsigned_approved=Money(pending, currency),
            paid_on_time=int(h.get("on_time") or 0),
            paid_late=int(h.get("late") or 0),
            overdue_90=Money(overdue_90, currency),
        )
    return out


async def credit_status(actor: Actor, customer_id: int) -> CreditStatus:
    actor.require("credit:read")
    await get_customer(actor, customer_id)
    return (await credit_statuses([customer_id]))[customer_id]


async def set_credit_profile(
    actor: Actor,
    customer_id: int,
    *,
    limit: Money,
    rating: str,
    notes: str = "",
) -> dict[str, Any]:
    """Create or replace a customer's credit limit and rating (finance/admin)."""
    actor.require("credit:manage")
    errors = []
    if rating not in config().ratings:
        errors.append(
            FieldError(
                "rating", f"rating must be one of {', '.join(config().ratings)}", "INVALID_CHOICE"
            )
        )
    if limit.minor < 0:
        errors.append(FieldError("limit", "limit must not be negative"))
    raise_if(errors)
    async with unit_of_work():
        await get_customer(actor, customer_id)
        before = await lock(
            CreditProfile.select().where(CreditProfile.customer == customer_id)
        ).first()
        values = {
            "limit_minor": limit.minor,
            "currency": limit.currency,
            "rating": rating,
            "notes": notes or "",
            "updated_at": now(),
        }
        if before is None:
            row = (
                await CreditProfile.insert(CreditProfile(customer=customer_id, **values)).returning(
                    *CreditProfile.all_columns()
                )
            )[0]
        else:
            values["version"] = before["version"] + 1
            await CreditProfile.update(values).where(CreditProfile.id == before["id"])
            row = {**before, **values}
        await record(
            actor,
            "set",
            "credit_profile",
            row["id"],
            before=before,
            after={**values, "customer": customer_id},
        )
    return row
