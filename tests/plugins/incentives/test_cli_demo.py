"""``kehu incentives`` commands (in-process) and idempotent demo data."""

import asyncio
from datetime import date
from typing import Any

from click.testing import CliRunner

from kehu.plugins.incentives.cli import incentives
from kehu.plugins.incentives.services import periods
from kehu.plugins.incentives.tables import CommissionLine, IncentiveEvent, Plan, Target

Q3 = date(2026, 8, 10)


class Obj:
    def __init__(self, kehu: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.kehu = kehu
        self.loop = loop

    def run(self, fn: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(fn(self.kehu), self.loop).result(timeout=60)


async def _invoke(kehu: Any, *args: str) -> Any:
    obj = Obj(kehu, asyncio.get_running_loop())
    return await asyncio.to_thread(CliRunner().invoke, incentives, list(args), obj=obj)


async def test_statement_recompute_and_payout(kehu, make_user, won_deal, make_plan):
    rep = await make_user("sales", username="zhao")
    await make_plan([rep])
    await won_deal(rep, "1234.56", closed_on=Q3)
    result = await _invoke(kehu, "recompute", "--period", "2026-Q3")
    assert result.exit_code == 0, result.output
    assert "2026-Q3: " in result.output and "unchanged" in result.output
    result = await _invoke(kehu, "statement", "zhao", "--period", "2026-Q3")
    assert result.exit_code == 0, result.output
    assert "Commission statement · zhao · 2026-Q3" in result.output
    assert "123.46" in result.output and "10% (Plan 1" in result.output
    assert "total: 123.46 CNY" in result.output
    result = await _invoke(kehu, "payout", "--period", "2026-Q3")
    assert result.exit_code == 0 and "2026-Q3 locked: 1 lines, total 123.46 CNY" in result.output
    result = await _invoke(kehu, "statement", "nobody", "--period", "2026-Q3")
    assert result.exit_code != 0 and "No user 'nobody'" in result.output
    result = await _invoke(kehu, "statement", "zhao", "--period", "2026-13")
    assert result.exit_code != 0 and "Invalid period" in result.output


async def test_demo_data_is_idempotent(kehu, system):
    from kehu.core.demo import load_demo

    users = await load_demo(kehu, system)
    assert await Plan.count() == 1
    targets = await Target.count()
    assert targets == 1 + 4 + 5  # company year, its quarters, five reps
    lines = await CommissionLine.count()
    assert lines > 0
    period = periods.containing(date.today(), "quarter").key
    assert {r["period"] for r in await CommissionLine.select(CommissionLine.period)} == {period}
    await kehu.acall("kehu_demo_data", actor=system, users=users)
    assert (
        await Plan.count(),
        await Target.count(),
        await CommissionLine.count(),
        await IncentiveEvent.count(),
    ) == (1, targets, lines, 1)
