"""``kehu loyalty`` commands, run against the contract of the ``kehu`` group: ``obj.kehu`` and
``obj.run(fn)`` (awaits ``fn(kehu)``). The test's event loop owns the database connections,
so the command runs in a worker thread and ``run`` submits the coroutine back to that loop."""

import asyncio
from typing import Any

from click.testing import CliRunner

from kehu_loyalty import services
from kehu_loyalty.cli import loyalty


class Obj:
    def __init__(self, kehu: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.kehu = kehu
        self.loop = loop

    def run(self, fn: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(fn(self.kehu), self.loop).result(timeout=60)


async def _invoke(kehu: Any, *args: str) -> Any:
    obj = Obj(kehu, asyncio.get_running_loop())
    return await asyncio.to_thread(CliRunner().invoke, loyalty, list(args), obj=obj)


async def test_cli_award_redeem_balance(kehu, system, make_customer):
    acme = await make_customer()
    cid = str(acme["id"])
    result = await _invoke(kehu, "award", cid, "25", "--reason", "Birthday")
    assert result.exit_code == 0, result.output
    assert result.output == f"Awarded 25 points: customer {cid} now has 25\n"
    result = await _invoke(kehu, "redeem", cid, "5", "--reason", "Pen")
    assert result.output == f"Redeemed 5 points: customer {cid} now has 20\n"
    result = await _invoke(kehu, "balance", cid, "--history", "5")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == f"Customer {cid}: 20 points"
    assert "-5  Pen" in lines[1] and "+25  Birthday" in lines[2]
    entry = (await services.ledger(system, acme["id"]))[0]
    assert (entry["source"], entry["actor"]) == ("cli", None)


async def test_cli_errors_are_one_line(kehu, make_customer):
    acme = await make_customer()
    result = await _invoke(kehu, "redeem", str(acme["id"]), "5", "--reason", "Pen")
    assert result.exit_code == 1
    assert result.output == "Error: Cannot redeem 5 points: the balance is 0\n"
    result = await _invoke(kehu, "balance", "999999")
    assert result.exit_code == 1 and "not found" in result.output
    result = await _invoke(kehu, "award", str(acme["id"]), "5")
    assert result.exit_code == 2 and "--reason" in result.output
