"""Fixtures for the pipeline tests (Kehu's own fixtures come from ``kehu.core.testing``)."""

from typing import Any

import pytest

from kehu.core.graphql.base import encode_id
from kehu.core.money import Money
from kehu.core.services import customers
from kehu.plugins.pipeline import services


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core", "pipeline"]


@pytest.fixture
def make_customer(kehu: Any, system: Any) -> Any:
    """``await make_customer("ACME", owner=user)``: a customer row."""

    async def factory(name: str = "ACME", owner: Any = None, **data: Any) -> dict[str, Any]:
        data = {"name": name, **data}
        if owner is not None:
            data["owner"] = owner.id
        return await customers.create_customer(system, data, allow_duplicate=True)

    return factory


@pytest.fixture
def make_pipeline(kehu: Any, system: Any) -> Any:
    """``await make_pipeline("linear")``: ``(pipeline row, {stage name: stage row})``."""

    async def factory(template: str = "linear", name: str | None = None, **kw: Any) -> Any:
        row = await services.create_pipeline(system, name or template, template=template, **kw)
        stages = (await services.stages_by_pipeline([row["id"]]))[row["id"]]
        return row, {s["name"]: s for s in stages}

    return factory


@pytest.fixture
def make_opportunity(kehu: Any, system: Any) -> Any:
    async def factory(
        customer: dict,
        pipeline: dict | None = None,
        *,
        amount: int = 100_000,
        currency: str = "CNY",
        actor: Any = None,
        **data: Any,
    ) -> dict:
        values = {
            "name": data.pop("name", "Deal"),
            "customer": customer["id"],
            "amount": Money(amount * 100, currency),
            **data,
        }
        if pipeline is not None:
            values["pipeline"] = pipeline["id"]
        return await services.create_opportunity(actor or system, values)

    return factory


def gid(kind: str, row: dict[str, Any]) -> str:
    return encode_id(kind, row["id"])
