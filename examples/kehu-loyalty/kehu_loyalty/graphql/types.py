"""Loyalty output types: the ``LoyaltyEntry`` node (built from its ledger row), the
``Customer.loyaltyPoints``/``loyaltyLedger`` fields and a leaderboard standing."""

import datetime as dt

import strawberry

from kehu.sdk import CustomerRef, Node, NotFound, RowType, UserRef, gql_enum
from kehu_loyalty import services
from kehu_loyalty.tables import EntryKind, LoyaltyLedger

LoyaltyEntryKind = gql_enum(EntryKind, "LoyaltyEntryKind")


@strawberry.type(description="A loyalty point transaction.")
class LoyaltyEntry(RowType, Node):
    __table__ = LoyaltyLedger
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    actor_pk: strawberry.Private[int | None]
    database_id: int
    kind: LoyaltyEntryKind
    points: int = strawberry.field(description="Signed: redemptions and expiry are negative.")
    balance_after: int
    reason: str
    source: str = strawberry.field(description="Origin: api, cli, activity, job, demo, manual.")
    created_at: dt.datetime

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> "LoyaltyEntry | None":
        try:
            return cls.from_row(await services.get_entry(info.context.actor, pk))
        except NotFound:
            return None

    @strawberry.field
    async def customer(self, info: strawberry.Info) -> CustomerRef | None:
        return await info.context.loader("customer").load(self.customer_pk)

    @strawberry.field(description="Who made the change; null for the system (jobs, events).")
    async def actor(self, info: strawberry.Info) -> UserRef | None:
        if self.actor_pk is None:
            return None
        return await info.context.loader("user").load(self.actor_pk)


@strawberry.type(description="Loyalty fields added to Customer by the loyalty plugin.")
class CustomerLoyalty:
    @strawberry.field(description="Unspent, unexpired loyalty points.")
    async def loyalty_points(self, info: strawberry.Info) -> int:
        info.context.actor.require("loyalty:read")
        return await info.context.loader("loyalty_balance").load(self.pk)

    @strawberry.field(description="Latest loyalty point transactions, newest first.")
    async def loyalty_ledger(self, info: strawberry.Info, first: int = 10) -> list[LoyaltyEntry]:
        info.context.actor.require("loyalty:read")
        first = max(1, min(first, 50))
        return await info.context.loader("loyalty_ledger").load((self.pk, first))


@strawberry.type
class LoyaltyStanding:
    customer: CustomerRef
    points: int
