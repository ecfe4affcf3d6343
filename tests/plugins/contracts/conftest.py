"""Fixtures for the contracts tests (Kehu's own fixtures come from ``kehu.core.testing``)."""

from datetime import date, timedelta
from typing import Any

import pytest

from kehu.core.money import Money
from kehu.core.services import customers
from kehu.plugins.contracts import services

CLAUSES = {
    "title": "Supply contract",
    "delivery_deadline": date(2026, 3, 1),
    "payment_method": "bank_transfer",
    "payment_terms": "30/70",
    "breach_liability": "10% of the total as liquidated damages",
    "acceptance_terms": "Within 15 days of delivery",
}


def cny(amount: str) -> Money:
    return Money.from_decimal(amount, "CNY")


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core", "contracts"]


@pytest.fixture
def make_customer(kehu: Any, system: Any) -> Any:
    """``await make_customer("ACME", owner=user)``: a customer row."""

    async def factory(name: str = "ACME", owner: Any = None, **data: Any) -> dict[str, Any]:
        data = {"name": name, **data}
        if owner is not None:
            data["owner"] = owner.id
        return await customers.create_customer(system, data, allow_duplicate=True)

    return factory


def lines(*prices: str, quantity: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "product": f"Product {i}",
            "specification": "Std",
            "quantity": quantity,
            "unit_price": cny(p),
        }
        for i, p in enumerate(prices)
    ]


@pytest.fixture
def make_contract(kehu: Any, system: Any) -> Any:
    """``await make_contract(customer, "signed", prices=("100.00",))``: a contract moved
    through the lifecycle to ``state`` by the system actor."""

    async def factory(
        customer: dict[str, Any],
        state: str = "draft",
        prices: tuple[str, ...] = ("1000.00",),
        signed_on: date | None = None,
        actor: Any = None,
        **data: Any,
    ) -> dict[str, Any]:
        actor = actor or system
        row = await services.create_contract(
            actor, customer["id"], {**CLAUSES, "lines": lines(*prices), **data}
        )
        order = ["draft", "pending_approval", "approved", "signed", "in_execution"]
        if order.index(state) >= 1:
            row = await services.submit_contract(system, row["id"])
        if order.index(state) >= 2:
            while row["status"] == "pending_approval":
                row = await services.decide_approval(system, row["id"], True, "ok")
        if order.index(state) >= 3:
            row = await services.sign_contract(
                system, row["id"], signed_on=signed_on or date.today() - timedelta(days=100)
            )
        if order.index(state) >= 4:
            row = await services.start_execution(system, row["id"])
        return row

    return factory
