"""Fixtures for the incentives tests (Kehu's own fixtures come from ``kehu.core.testing``)."""

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from kehu.core.money import Money
from kehu.core.services import customers
from kehu.plugins.incentives.services import plans
from kehu.plugins.pipeline import services as pipeline
from kehu.plugins.pipeline.tables import Opportunity

TIERS = [
    {"from": "0", "rate": "0.05"},
    {"from": "0.8", "rate": "0.08"},
    {"from": "1", "rate": "0.12"},
]
SPLITS = {"am": Decimal(50), "ts": Decimal(20), "sc": Decimal(20), "bd": Decimal(10)}


def cny(amount: str) -> Money:
    return Money.from_decimal(amount, "CNY")


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core", "pipeline", "incentives"]


@pytest.fixture
def make_customer(kehu: Any, system: Any) -> Any:
    async def factory(name: str = "ACME", owner: Any = None, **data: Any) -> dict[str, Any]:
        data = {"name": name, **data}
        if owner is not None:
            data["owner"] = owner.id
        return await customers.create_customer(system, data, allow_duplicate=True)

    return factory


@pytest.fixture
def won_deal(kehu: Any, system: Any, make_customer: Any) -> Any:
    """``await won_deal(owner, "1000.00", team=[(user, "ts")], closed_on=date(...))``: a won
    opportunity (``closed_on`` moves its close date, for tests of other periods)."""
    state: dict[str, Any] = {}

    async def factory(
        owner: Any,
        amount: str,
        *,
        team: list[tuple[Any, str]] = (),
        closed_on: date | None = None,
        name: str = "Deal",
    ) -> dict[str, Any]:
        if "pipeline" not in state:
            state["pipeline"] = await pipeline.create_pipeline(
                system, "Sales", template="linear", transition_policy="non_linear"
            )
            state["customer"] = await make_customer("ACME")
        row = await pipeline.create_opportunity(
            system,
            {
                "name": name,
                "customer": state["customer"]["id"],
                "amount": cny(amount),
                "owner": owner.id,
                "pipeline": state["pipeline"]["id"],
            },
        )
        for user, role in team:
            await pipeline.add_team_member(system, row["id"], user.id, role)
        await _win(system, row["id"])
        if closed_on is not None:
            at = datetime.combine(closed_on, time(12), UTC)
            await Opportunity.update({Opportunity.closed_at: at}).where(Opportunity.id == row["id"])
        return await Opportunity.select().where(Opportunity.id == row["id"]).first()

    return factory


async def _win(system: Any, opportunity_id: int) -> None:
    await pipeline.win_opportunity(system, opportunity_id)


@pytest.fixture
def make_plan(kehu: Any, system: Any) -> Any:
    """``await make_plan(users, basis="won", rate="0.1")``: a plan assigned to ``users``."""
    count = iter(range(1, 1000))

    async def factory(
        users: list[Any],
        *,
        basis: str = "won",
        rate: str | None = "0.1",
        tiers: list[dict] | None = None,
        splits: dict | None = None,
        cap: Money | None = None,
        start: date = date(2020, 1, 1),
        metric: str | None = None,
    ) -> dict[str, Any]:
        row = await plans.create_plan(
            system,
            {
                "name": f"Plan {next(count)}",
                "basis": basis,
                "effective_from": start,
                "rate": None if tiers else rate,
                "tiers": tiers,
                "splits": splits,
                "cap_minor": cap.minor if cap else None,
                "attainment_metric": metric,
            },
        )
        for u in users:
            await plans.assign_plan(system, row["id"], user_id=u.id)
        return row

    return factory


def datetime_at(day: date) -> datetime:
    return datetime.combine(day, time(12), UTC)
