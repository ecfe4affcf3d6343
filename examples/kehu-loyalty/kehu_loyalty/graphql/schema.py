"""Loyalty GraphQL, table of contents: the leaderboard query and what ``plugin.py`` hands to
Kehu."""

import strawberry

from kehu.sdk import composed
from kehu_loyalty import services
from kehu_loyalty.graphql.loaders import LOADERS
from kehu_loyalty.graphql.mutations.points import PointsMutations
from kehu_loyalty.graphql.types import CustomerLoyalty, LoyaltyEntry, LoyaltyStanding


@strawberry.type
class LoyaltyQuery:
    @strawberry.field(description="Visible active customers with the most loyalty points.")
    async def loyalty_leaderboard(
        self, info: strawberry.Info, first: int = 10
    ) -> list[LoyaltyStanding]:
        rows = await services.leaderboard(info.context.actor, first)
        make = composed("Customer").from_row
        return [LoyaltyStanding(customer=make(c), points=points) for c, points in rows]


NODE_TYPES = [LoyaltyEntry]
QUERIES = [LoyaltyQuery]
MUTATIONS = [PointsMutations]
TYPE_EXTENSIONS = {"Customer": [CustomerLoyalty]}
__all__ = ["LOADERS", "MUTATIONS", "NODE_TYPES", "QUERIES", "TYPE_EXTENSIONS"]
