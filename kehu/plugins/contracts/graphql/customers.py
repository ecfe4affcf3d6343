"""What contracts adds to ``Customer``: its contracts, receivables and credit status (batched)."""

from typing import Any

import strawberry

from kehu.core.graphql.base import Money
from kehu.plugins.contracts.graphql.types import ContractRef


@strawberry.type(name="CreditStatus", description="客户资信: limit, rating, exposure.")
class CreditStatusType:
    credit_limit: Money | None
    rating: str
    high_risk: bool
    exposure: Money = strawberry.field(
        description="Open receivables + approved contracts not yet signed"
    )
    open_receivables: Money
    overdue: Money
    unsigned_approved: Money
    available: Money | None
    paid_on_time: int
    paid_late: int
    suggested_rating: str = strawberry.field(
        description="From payment history, overdue amounts and the limit (advice only)"
    )

    @classmethod
    def of(cls, c: Any) -> "CreditStatusType":
        return cls(
            credit_limit=Money.of(c.limit),
            rating=c.rating,
            high_risk=c.high_risk,
            exposure=Money.of(c.exposure),
            open_receivables=Money.of(c.open_receivables),
            overdue=Money.of(c.overdue),
            unsigned_approved=Money.of(c.unsigned_approved),
            available=Money.of(c.available),
            paid_on_time=c.paid_on_time,
            paid_late=c.paid_late,
            suggested_rating=c.suggested_rating,
        )


@strawberry.type(name="CustomerReceivables")
class CustomerReceivablesType:
    open: Money
    overdue: Money
    credit_limit: Money | None
    rating: str
    exposure: Money


@strawberry.type(description="Contract fields added to Customer by the contracts plugin.")
class CustomerContracts:
    @strawberry.field(description="The customer's newest visible contracts.")
    async def contracts(self, info: strawberry.Info, first: int = 20) -> list[ContractRef]:
        first = max(1, min(first, 100))
        return await info.context.loader("contracts_by_customer").load((self.pk, first))

    @strawberry.field(
        description="Open and overdue receivables and credit (null without the "
        "receivable:read permission)."
    )
    async def receivables(self, info: strawberry.Info) -> CustomerReceivablesType | None:
        if not info.context.actor.can("receivable:read"):
            return None
        c = await info.context.loader("contracts_receivables").load(self.pk)
        return CustomerReceivablesType(
            open=Money.of(c.open_receivables),
            overdue=Money.of(c.overdue),
            credit_limit=Money.of(c.limit),
            rating=c.rating,
            exposure=Money.of(c.exposure),
        )
