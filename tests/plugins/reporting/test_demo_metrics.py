"""With every built-in plugin enabled, the demo data makes every registered metric non-empty,
each metric answers a GraphQL request in a bounded number of SQL queries, and a rep's figures
never exceed the administrator's."""

from decimal import Decimal
from pathlib import Path

import pytest

from kehu.core.db import count_queries
from kehu.core.demo import load_demo
from kehu.core.services import users
from kehu.core.tables import User
from kehu.plugins.reporting import services

BUILT_IN = ["pipeline", "contracts", "tickets", "incentives", "reporting"]
MAX_QUERIES = 12  # per metric request, whatever the data size

QUERY = """query($name: String!) { metric(name: $name) {
  rows { dimensions { name value } value currency measures { name value } } } }"""


@pytest.fixture
def kehu_plugins() -> list[str]:
    return BUILT_IN


async def _actor(username: str):
    row = await User.select().where(User.username == username).first()
    return users.actor_for(row)


async def test_demo_makes_every_metric_non_empty(kehu, system):
    await load_demo(kehu, system)
    admin = await _actor("admin")
    registry = services.all_metrics()
    assert {m.plugin for m in registry.values()} >= set(BUILT_IN) - {"reporting"}
    empty = []
    for name in registry:
        _, rows = await services.run_metric(admin, name)
        if not any(row.value != 0 for row in rows):
            empty.append(name)
    assert empty == [], f"metrics without demo data: {empty}"


async def test_every_metric_runs_in_bounded_queries_over_http(kehu, system, gql, make_user):
    await load_demo(kehu, system)
    admin = await make_user("admin")
    for name in services.all_metrics():
        with count_queries() as log:
            body = await gql(QUERY, {"name": name}, user=admin)
        assert "errors" not in body, (name, body)
        assert len(log.statements) <= MAX_QUERIES, (name, len(log.statements))


async def test_a_rep_sees_at_most_what_the_admin_sees(kehu, system):
    """Count metrics without grouping: a rep's total never exceeds the company's."""
    await load_demo(kehu, system)
    admin, rep = await _actor("admin"), await _actor("zhangwei")
    for name, metric in services.all_metrics().items():
        if metric.unit != "count" or not rep.can("report:read"):
            continue
        _, everyone = await services.run_metric(admin, name)
        _, mine = await services.run_metric(rep, name)
        assert sum((r.value for r in mine), Decimal(0)) <= sum(
            (r.value for r in everyone), Decimal(0)
        ), name


def test_every_metric_is_in_the_catalogue(kehu):
    """docs/plugins/reporting.md lists every built-in metric (name in backticks)."""
    docs = Path(__file__).resolve().parents[3] / "docs" / "plugins" / "reporting.md"
    text = docs.read_text(encoding="utf-8")
    missing = [name for name in services.all_metrics() if f"`{name}`" not in text]
    assert missing == [], f"add to docs/plugins/reporting.md: {missing}"
