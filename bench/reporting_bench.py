"""Reporting benchmark: funnel, receivables aging and won revenue by month over a large data
set, each next to the same hand-written SQL timed in the same run.

    python bench/reporting_bench.py [--rows 1000000] [--postgres URL]

``--rows`` opportunities (with ~2.5 stage changes each) and as many receivable installments.
PostgreSQL is measured too when --postgres or KEHU_TEST_POSTGRES_URL is given.
"""

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from kehu.core.permissions import system_actor
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings
from kehu.plugins.contracts import services
from kehu.plugins.pipeline import services as pipeline
from kehu.plugins.reporting import services as reporting

RAW = {
    "funnel": """SELECT to_stage, COUNT(DISTINCT opportunity) FROM pipeline_stage_change
                 GROUP BY to_stage""",
    "aging": """SELECT SUM(CASE WHEN i.due_date >= {today} THEN i.amount_minor - i.paid_minor
                       END),
                       SUM(CASE WHEN i.due_date < {today} THEN i.amount_minor - i.paid_minor END)
                FROM contracts_installment i JOIN contracts_contract k ON k.id = i.contract
                WHERE k.status = 'signed' AND k.signed_on <= {today}
                  AND i.amount_minor > i.paid_minor""",
    "revenue": """SELECT {month} AS m, currency, SUM(amount_minor) FROM pipeline_opportunity
                  WHERE status = 'won' GROUP BY m, currency""",
}


def _data(rows: int, stages: list[int], pipeline_id: int, customers: list[int]):
    rng = random.Random(11)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    opps, changes = [], []
    for i in range(1, rows + 1):
        reached = min(len(stages) - 1, int(rng.expovariate(0.6)))
        won = reached == len(stages) - 1
        closed = start + timedelta(days=rng.randint(0, 700))
        opps.append(
            (
                i,
                f"Deal {i}",
                rng.choice(customers),
                pipeline_id,
                stages[reached],
                rng.randint(1_000, 5_000_000) * 100,
                "CNY",
                "won" if won else "open",
                closed if won else None,
            )
        )
        changes += [(i, stages[k]) for k in range(reached + 1)]
    installments = []
    today = date.today()
    for i in range(1, rows + 1):
        amount = rng.randint(100, 100_000) * 100
        installments.append(
            (
                1 + i % 1000,
                rng.choice(customers),
                i,
                today + timedelta(days=rng.randint(-200, 60)),
                amount,
                rng.choice([0, 0, amount // 2, amount]),
                "CNY",
            )
        )
    return opps, changes, installments


async def load(kehu: Kehu, rows: int) -> None:
    system = system_actor()
    flow = await pipeline.create_pipeline(system, "Bench", template="linear")
    stages = [
        s["id"]
        for s in (await pipeline.stages_by_pipeline([flow["id"]]))[flow["id"]]
        if not s["is_closed"] or s["is_won"]
    ]
    from kehu.core.services import customers as customer_service

    ids = [
        (
            await customer_service.create_customer(
                system, {"name": f"Customer {i}"}, allow_duplicate=True
            )
        )["id"]
        for i in range(20)
    ]
    opps, changes, installments = _data(rows, stages, flow["id"], ids)
    contracts = [
        (f"B-{n}", ids[n % len(ids)], "signed", "CNY", 0, date(2024, 1, 1)) for n in range(1, 1001)
    ]
    sql = {
        "contracts_contract": (
            "number, customer, status, currency, total_minor, signed_on",
            contracts,
        ),
        "pipeline_opportunity": (
            "id, name, customer, pipeline, stage, amount_minor, currency, status, closed_at",
            opps,
        ),
        "pipeline_stage_change": ("opportunity, to_stage", changes),
        "contracts_installment": (
            "contract, customer, seq, due_date, amount_minor, paid_minor, currency",
            installments,
        ),
    }
    if kehu.engine.engine_type == "sqlite":
        with sqlite3.connect(kehu.engine.path) as conn:
            for table, (cols, values) in sql.items():
                marks = ", ".join("?" * len(cols.split(",")))
                conn.executemany(
                    f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                    [
                        tuple(str(v) if isinstance(v, datetime | date) else v for v in row)
                        for row in values
                    ],
                )
            conn.execute("ANALYZE")
    else:
        import asyncpg

        conn = await asyncpg.connect(kehu.settings.database_url)
        try:
            for table, (cols, values) in sql.items():
                await conn.copy_records_to_table(
                    table, records=values, columns=[c.strip() for c in cols.split(",")]
                )
            await conn.execute("ANALYZE")
        finally:
            await conn.close()


async def _timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


class RawSQL:
    """The hand-written queries on one open connection (no pool or ORM in the way)."""

    def __init__(self, kehu: Kehu) -> None:
        self.kehu, self.conn = kehu, None

    async def __aenter__(self) -> "RawSQL":
        if self.kehu.engine.engine_type == "sqlite":
            self.conn = sqlite3.connect(self.kehu.engine.path)
        else:
            import asyncpg

            self.conn = await asyncpg.connect(self.kehu.settings.database_url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        result = self.conn.close()
        if asyncio.iscoroutine(result):
            await result

    async def run(self, name: str) -> list:
        today = date.today().isoformat()
        if self.kehu.engine.engine_type == "sqlite":
            query = RAW[name].format(today=f"'{today}'", month="strftime('%Y-%m', closed_at)")
            return self.conn.execute(query).fetchall()
        query = RAW[name].format(
            today=f"DATE '{today}'", month="to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM')"
        )
        return await self.conn.fetch(query)


async def bench(url: str, rows: int) -> None:
    kehu = Kehu(Settings(database_url=url, plugins=["pipeline", "contracts", "reporting"]))
    await kehu.start()
    await kehu.migrate()
    started = time.perf_counter()
    await load(kehu, rows)
    loaded = time.perf_counter() - started
    system = system_actor()
    flow = (await pipeline.list_pipelines(system))[0]
    kehu_side = {
        "funnel": lambda: pipeline.funnel(system, flow["id"]),
        "aging": lambda: services.aging(system, group_by="none"),
        "revenue": lambda: reporting.run_metric(system, "pipeline.revenue", dimensions=("period",)),
    }
    engine = kehu.engine.engine_type
    print(
        f"[{engine}] loaded {rows:,} opportunities, their stage history and {rows:,} "
        f"installments in {loaded:.1f} s"
    )
    async with RawSQL(kehu) as raw_sql:
        for name, fn in kehu_side.items():
            assert await fn(), f"{name} returned nothing"
            ours = await _timed(fn)
            raw = await _timed(lambda name=name: raw_sql.run(name))
            print(f"[{engine}] {name:8s} Kehu {ours:9.1f} ms   hand-written SQL {raw:9.1f} ms")
    await kehu.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("KEHU_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await bench(f"sqlite:///{Path(tmp) / 'bench.db'}", args.rows)
    if args.postgres:
        import asyncpg

        conn = await asyncpg.connect(args.postgres)
        await conn.execute('DROP DATABASE IF EXISTS "kehu_bench_reports" WITH (FORCE)')
        await conn.execute('CREATE DATABASE "kehu_bench_reports"')
        await conn.close()
        await bench(args.postgres.rsplit("/", 1)[0] + "/kehu_bench_reports", args.rows)


if __name__ == "__main__":
    asyncio.run(main())
