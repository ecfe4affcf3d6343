"""``kehu loyalty`` commands.

The in-process tests use the contract of the ``kehu`` group: ``obj.kehu`` and ``obj.run(fn)``
(awaits ``fn(kehu)``). The test's event loop owns the database connections, so the command runs
in a worker thread and ``run`` submits the coroutine back to that loop. The last test runs the
real ``kehu`` executable in a subprocess on a fresh SQLite database.
"""

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
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


def _kehu_executable() -> str:
    beside = Path(sys.executable).with_name("kehu")
    return str(beside) if beside.exists() else shutil.which("kehu") or "kehu"


def test_real_kehu_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHU_")}
    env["KEHU_DATABASE_URL"] = f"sqlite:///{tmp_path / 'kehu.db'}"

    def kehu(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [_kehu_executable(), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert "loyalty" in kehu("migrate").stdout
    assert kehu("demo").returncode == 0
    before = kehu("loyalty", "balance", "1")
    assert before.returncode == 0, before.stderr
    points = int(before.stdout.split(": ")[1].split()[0])
    award = kehu("loyalty", "award", "1", "10", "--reason", "Subprocess")
    assert award.stdout.strip() == f"Awarded 10 points: customer 1 now has {points + 10}"
    failed = kehu("loyalty", "redeem", "1", str(points + 11), "--reason", "Too much")
    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        f"Error: Cannot redeem {points + 11} points: the balance is {points + 10}"
    )
    job = kehu("jobs", "run", "loyalty.expire")
    assert "expired 0 points" in job.stdout, job.stdout + job.stderr
