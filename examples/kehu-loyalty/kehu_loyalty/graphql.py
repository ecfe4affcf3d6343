"""Loyalty GraphQL: ``Customer.loyaltyPoints``/``loyaltyLedger`` (batched DataLoaders), the
``LoyaltyEntry`` node, the ``loyaltyLeaderboard`` query and the award/redeem mutations.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
"""

import datetime as dt
from typing import Any

import strawberry

from kehu.sdk import (
    CustomerRef,
    Node,
    NotFound,
    UserError,
    UserRef,
    composed,
    encode_id,
    enum_value,
    gql_enum,
    payload,
    pk_of,
)
from kehu_loyalty import services
from kehu_loyalty.tables import EntryKind

LoyaltyEntryKind = gql_enum(EntryKind, "LoyaltyEntryKind")


@strawberry.type(description="A loyalty point transaction.")
class LoyaltyEntry(Node):
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
    def from_row(cls, row: dict[str, Any]) -> "LoyaltyEntry":
        return cls(
            id=encode_id("LoyaltyEntry", row["id"]),
            pk=row["id"],
            customer_pk=row["customer"],
            actor_pk=row["actor"],
            database_id=row["id"],
            kind=enum_value(LoyaltyEntryKind, row["kind"]),
            points=row["points"],
            balance_after=row["balance_after"],
            reason=row["reason"],
            source=row["source"],
            created_at=row["created_at"],
        )

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


async def load_balances(ctx: Any, keys: list[int]) -> list[int]:
    found = await services.balances(keys)
    return [found[k] for k in keys]


async def load_ledgers(ctx: Any, keys: list[tuple[int, int]]) -> list[list[LoyaltyEntry]]:
    """Keys are ``(customer_id, first)``; one query per distinct ``first``."""
    by_limit: dict[int, list[int]] = {}
    for customer_id, limit in keys:
        by_limit.setdefault(limit, []).append(customer_id)
    found = {limit: await services.recent_entries(ids, limit) for limit, ids in by_limit.items()}
    return [[LoyaltyEntry.from_row(r) for r in found[limit][cid]] for cid, limit in keys]


LOADERS = {"loyalty_balance": load_balances, "loyalty_ledger": load_ledgers}


@strawberry.type
class LoyaltyStanding:
    customer: CustomerRef
    points: int


@strawberry.type
class LoyaltyQuery:
    @strawberry.field(description="Visible active customers with the most loyalty points.")
    async def loyalty_leaderboard(
        self, info: strawberry.Info, first: int = 10
    ) -> list[LoyaltyStanding]:
        rows = await services.leaderboard(info.context.actor, first)
        make = composed("Customer").from_row
        return [LoyaltyStanding(customer=make(c), points=points) for c, points in rows]


@strawberry.input
class LoyaltyPointsInput:
    customer_id: strawberry.ID
    points: int
    reason: str
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeat a request safely: the same key changes points once."
    )


@strawberry.type
class LoyaltyPointsPayload:
    customer: CustomerRef | None
    errors: list[UserError]


async def _change(info: strawberry.Info, change: Any, data: LoyaltyPointsInput) -> Any:
    async def work() -> Any:
        result = await change(
            info.context.actor,
            pk_of(data.customer_id, "Customer", "customerId"),
            data.points,
            data.reason,
            source="api",
            idempotency_key=data.idempotency_key,
        )
        return composed("Customer").from_row(result.customer)

    return await payload(LoyaltyPointsPayload, "customer", work)


@strawberry.type
class LoyaltyMutation:
    @strawberry.mutation(description="Give a customer loyalty points (scope loyalty:award).")
    async def award_loyalty_points(
        self, info: strawberry.Info, input: LoyaltyPointsInput
    ) -> LoyaltyPointsPayload:
        return await _change(info, services.award_points, input)

    @strawberry.mutation(
        description="Spend loyalty points; more than the balance is an INSUFFICIENT_POINTS error."
    )
    async def redeem_loyalty_points(
        self, info: strawberry.Info, input: LoyaltyPointsInput
    ) -> LoyaltyPointsPayload:
        return await _change(info, services.redeem_points, input)
