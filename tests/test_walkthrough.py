"""The 60-line plugin of docs/writing_plugins.md, built from the page's code block exactly:
its migration generated as the page says, then its table, ``Customer.stars`` field, mutation,
CLI command and event handler used as a user would."""

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from kehu.core import plugin as core_plugin
from kehu.core.context import current
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "writing_plugins.md"
BLOCK = re.compile(r"```python file=(\S+)\n(.*?)```", re.DOTALL)


def _blocks() -> dict[str, str]:
    return dict(BLOCK.findall(DOC.read_text(encoding="utf-8")))


def test_the_plugin_is_at_most_60_lines():
    code = _blocks()["kehu_stars/plugin.py"]
    assert len([line for line in code.splitlines() if line.strip()]) <= 60


@pytest.fixture
def stars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The page's plugin, written to a package and imported."""
    for path, code in _blocks().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        (target.parent / "__init__.py").touch()
        target.write_text(code, encoding="utf-8")
    (tmp_path / "kehu_stars" / "piccolo_migrations").mkdir()
    (tmp_path / "kehu_stars" / "piccolo_migrations" / "__init__.py").touch()
    monkeypatch.syspath_prepend(str(tmp_path))
    import kehu_stars.plugin as module

    try:
        previous = current()
    except RuntimeError:
        previous = None
    yield module
    for name in [n for n in sys.modules if n.startswith("kehu_stars")]:
        del sys.modules[name]
    if previous is not None:
        previous.activate()


@pytest.mark.filterwarnings("ignore:.*Auto migrations aren't fully supported by SQLite")
def test_the_walkthrough_plugin_works(stars: Any, tmp_path: Path) -> None:
    from piccolo.apps.migrations.commands.new import new

    from kehu.api.app import create_app
    from kehu.core.permissions import system_actor
    from kehu.core.services import customers, users

    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/stars.db", plugins=["stars"], strict_events=True
    )
    kehu = Kehu(settings, available={"core": core_plugin, "stars": stars.plugin})
    assert kehu.names == ["core", "stars"]

    async def setup() -> dict[str, Any]:
        await kehu.start()
        await new(app_name="stars", auto=True)  # the page's `piccolo migrations new --auto`
        await kehu.migrate()
        system = system_actor()
        await users.create_user(system, {"username": "boss", "role": "admin"})
        await users.create_user(system, {"username": "rep", "role": "sales"})
        _, admin = await users.create_api_key(system, "boss")
        _, rep = await users.create_api_key(system, "rep")
        customer = await customers.create_customer(system, {"name": "Starry Co"})
        return {"admin": admin, "rep": rep, "customer": customer}

    data = asyncio.run(setup())
    assert list((tmp_path / "kehu_stars" / "piccolo_migrations").glob("stars_*.py"))
    from kehu.core.graphql.base import encode_id

    customer_id = encode_id("Customer", data["customer"]["id"])
    rate = (
        "mutation($id: ID!, $n: Int!) { rateCustomer(input: {customerId: $id, stars: $n})"
        " { starRating { stars } errors { field code } } }"
    )
    stars_of = "query($id: ID!) { customer(id: $id) { name stars } }"

    async def api() -> list[dict[str, Any]]:
        app = create_app(kehu=kehu, lifespan=False)
        out = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            for key, query, variables in [
                (data["admin"], rate, {"id": customer_id, "n": 4}),
                (data["admin"], rate, {"id": customer_id, "n": 9}),
                (data["admin"], stars_of, {"id": customer_id}),
                (data["rep"], rate, {"id": customer_id, "n": 1}),
            ]:
                response = await client.post(
                    "/graphql",
                    json={"query": query, "variables": variables},
                    headers={"Authorization": f"Bearer {key}"},
                )
                out.append(response.json())
        return out

    ok, invalid, read, hidden = asyncio.run(api())
    assert ok["data"]["rateCustomer"] == {"starRating": {"stars": 4}, "errors": []}
    assert invalid["data"]["rateCustomer"] == {
        "starRating": None,
        "errors": [{"field": "stars", "code": "INVALID"}],
    }
    assert read["data"]["customer"] == {"name": "Starry Co", "stars": 4}
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # not the rep's customer

    class State:  # what `kehu` passes to plugin commands: run(work) on the database
        def run(self, work: Any) -> Any:
            return asyncio.run(work(kehu))

    result = CliRunner().invoke(
        stars.stars_command, [str(data["customer"]["id"]), "2"], obj=State()
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Customer {data['customer']['id']}: 2 stars"

    async def after() -> tuple[list[dict[str, Any]], list[str]]:
        from kehu.core.tables import EventRecord

        ratings = await stars.Rating.select()
        await customers.archive_customer(system_actor(), data["customer"]["id"])
        events = [r["name"] for r in await EventRecord.select().order_by(EventRecord.id)]
        remaining = await stars.Rating.select()
        await kehu.stop()
        return [ratings, remaining], events

    (ratings, remaining), events = asyncio.run(after())
    assert [r["stars"] for r in ratings] == [2]
    assert remaining == []  # the event handler removed the archived customer's rating
    assert events.count("stars.rated") == 2 and "customer.archived" in events
