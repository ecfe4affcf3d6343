"""Fixtures for the tickets tests. Kehu's own fixtures (``kehu``, ``make_user``, ``gql``,
``system``, ``kehu_client``...) come from the ``kehu.core.testing`` pytest plugin.

Time is frozen: services take ``now``; ``MON`` is Monday 2026-11-16 10:00 in Shanghai (the
default calendar: Mon–Fri 09:00–18:00 Asia/Shanghai)."""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kehu.core.graphql.base import encode_id
from kehu.core.services import customers

SH = ZoneInfo("Asia/Shanghai")
MON = datetime(2026, 11, 16, 10, 0, tzinfo=SH)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["tickets"]


@pytest.fixture
def kehu_settings_overrides() -> dict[str, Any]:
    return {
        "plugin_settings": {
            "tickets": {
                "assignment": {"North": "round_robin", "South": "least_open"},
                "reminder_lead_minutes": 30,
            }
        }
    }


@pytest.fixture
def make_customer(kehu: Any, system: Any) -> Any:
    """``await make_customer("ACME", owner=user, team=user)``: a customer row."""

    async def factory(name: str = "ACME", owner: Any = None) -> dict[str, Any]:
        data: dict[str, Any] = {"name": name}
        if owner is not None:
            data["owner"] = owner.id
            data["team"] = owner.team_id
        return await customers.create_customer(system, data, allow_duplicate=True)

    return factory


def gid(kind: str, row: dict[str, Any] | int) -> str:
    return encode_id(kind, row if isinstance(row, int) else row["id"])
