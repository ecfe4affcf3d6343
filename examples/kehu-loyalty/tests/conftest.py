"""Fixtures for the loyalty tests. Kehu's own fixtures (``kehu``, ``make_user``, ``gql``,
``system``, ``kehu_client``...) come from the ``kehu.core.testing`` pytest plugin."""

from typing import Any

import pytest

from kehu.core.graphql.base import encode_id
from kehu.core.services import customers


@pytest.fixture
def make_customer(kehu: Any, system: Any) -> Any:
    """``await make_customer("ACME", owner=user)``: a customer row (owned by ``owner``)."""

    async def factory(name: str = "ACME", owner: Any = None) -> dict[str, Any]:
        data: dict[str, Any] = {"name": name}
        if owner is not None:
            data["owner"] = owner.id
        return await customers.create_customer(system, data, allow_duplicate=True)

    return factory


def gid(customer: dict[str, Any]) -> str:
    return encode_id("Customer", customer["id"])
