"""Core benchmark: CSV import throughput and customer-list latency, each next to the raw-SQL
floor measured in the same run.

    python bench/core_bench.py [--rows 100000] [--queries 200] [--postgres URL]

PostgreSQL is measured too when --postgres or KEHU_TEST_POSTGRES_URL is given.
"""

import argparse
import asyncio
import csv
import io
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from kehu.api.app import create_app
from kehu.core.permissions import system_actor
from kehu.core.runtime import Kehu
from kehu.core.services import exports, importexport, users
from kehu.core.settings import Settings

LIST_QUERY = """query($first: Int!) { customers(first: $first) { edges { node {
  id name tier lifecycleStage email phone owner { username } } } } }"""
RAW_LIST = (
    "SELECT id, name, tier, lifecycle_stage, email, phone, owner FROM core_customer "
    "WHERE archived_at IS NULL ORDER BY name, id LIMIT 51"
)
HEADER = ["name", "email", "phone", "industry", "region", "tier", "source", "tags"]


def make_csv(rows: int) -> str:
    rng = random.Random(7)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(rows):
        writer.writerow(
            [
                f"Company {i:06d} {rng.choice(['Tech', 'Trade', 'Foods'])}",
                f"info{i}@c{i}.example.com",
                f"+86 139{i:08d}",
                rng.choice(["software", "logistics", "retail"]),
                rng.choice(["North", "South", "East", "West"]),
                rng.choice(["gold", "silver", "bronze"]),
                rng.choice(["website", "referral", "trade_show"]),
                rng.choice(["", "vip", "vip;key_account"]),
            ]
        )
    return out.getvalue()


async def raw_insert_floor(kehu: Kehu, text: str) -> float:
    """Rows/s of a plain multi-row INSERT of the same data in one transaction per 500."""
    reader = csv.DictReader(io.StringIO(text))
    rows = [
        (
            r["name"],
            r["name"].lower(),
            r["email"],
            r["phone"],
            r["industry"],
            r["region"],
            r["tier"],
            r["source"],
        )
        for r in reader
    ]
    cols = "name, name_key, email, phone, industry, region, tier, source, kind, lifecycle_stage"
    start = time.perf_counter()
    if kehu.engine.engine_type == "sqlite":
        with sqlite3.connect(kehu.engine.path) as conn:
            conn.executemany(
                f"INSERT INTO bench_raw ({cols}) VALUES (?,?,?,?,?,?,?,?,'organization',"
                "'potential')",
                rows,
            )
    else:
        import asyncpg

        conn = await asyncpg.connect(kehu.settings.database_url)
        try:
            async with conn.transaction():
                await conn.executemany(
                    f"INSERT INTO bench_raw ({cols}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,"
                    "'organization','potential')",
                    rows,
                )
        finally:
            await conn.close()
    return len(rows) / (time.perf_counter() - start)


EXPORT_SQL = (
    "SELECT c.id, c.name, c.kind, c.industry, c.region, c.size, c.source, c.tier, "
    "c.lifecycle_stage, c.email, c.phone, c.tax_id, c.website, c.address, c.credit_rating, "
    "c.marketing_consent, c.birthday, c.anniversary, c.custom_fields, c.owner, c.team, "
    "c.archived_at, c.created_at FROM core_customer c WHERE c.archived_at IS NULL ORDER BY c.id"
)


async def raw_export_floor(kehu: Kehu) -> float:
    """Seconds to write the same customers with one cursor and csv.writer."""
    out = io.StringIO()
    writer = csv.writer(out)
    start = time.perf_counter()
    if kehu.engine.engine_type == "sqlite":
        with sqlite3.connect(kehu.engine.path) as conn:
            writer.writerows(conn.execute(EXPORT_SQL))
    else:
        import asyncpg

        conn = await asyncpg.connect(kehu.settings.database_url)
        try:
            async with conn.transaction():
                async for record in conn.cursor(EXPORT_SQL, prefetch=2000):
                    writer.writerow(record)
        finally:
            await conn.close()
    return time.perf_counter() - start


async def raw_list_latency(kehu: Kehu, n: int) -> list[float]:
    timings = []
    if kehu.engine.engine_type == "sqlite":
        for _ in range(n):
            start = time.perf_counter()
            with sqlite3.connect(kehu.engine.path) as conn:  # a connection per request, too
                conn.execute(RAW_LIST).fetchall()
            timings.append(time.perf_counter() - start)
    else:
        import asyncpg

        pool = await asyncpg.create_pool(kehu.settings.database_url, min_size=1, max_size=2)
        try:
            for _ in range(n):
                start = time.perf_counter()
                async with pool.acquire() as conn:
                    await conn.fetch(RAW_LIST)
                timings.append(time.perf_counter() - start)
        finally:
            await pool.close()
    return timings


async def bench(url: str, rows: int, queries: int) -> None:
    kehu = Kehu(Settings(database_url=url, plugins=["core"], rate_limit_per_minute=10**9))
    await kehu.start()
    await kehu.migrate()
    await kehu.engine.run_ddl("CREATE TABLE bench_raw AS SELECT * FROM core_customer WHERE 1=0")
    text = make_csv(rows)
    actor = system_actor()

    start = time.perf_counter()
    report = await importexport.import_customers(actor, io.StringIO(text), chunk_size=1000)
    elapsed = time.perf_counter() - start
    assert report.created == rows, report.errors[:3]
    floor = await raw_insert_floor(kehu, text)

    start = time.perf_counter()
    exported = await exports.write_export(exports.export_customers(actor), io.StringIO(), "csv")
    export_s = time.perf_counter() - start
    assert exported == rows
    export_floor = await raw_export_floor(kehu)

    await users.create_user(actor, {"username": "bench", "role": "admin"})
    _, key = await users.create_api_key(actor, "bench")
    app = create_app(kehu=kehu, lifespan=False)
    timings = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        headers = {"Authorization": f"Bearer {key}"}
        for i in range(queries + 10):
            t0 = time.perf_counter()
            response = await client.post(
                "/graphql", json={"query": LIST_QUERY, "variables": {"first": 50}}, headers=headers
            )
            if i >= 10:  # warm-up
                timings.append(time.perf_counter() - t0)
            assert response.status_code == 200 and "errors" not in response.json()
    raw = await raw_list_latency(kehu, queries)
    await kehu.stop()

    p50, raw_p50 = statistics.median(timings) * 1000, statistics.median(raw) * 1000
    print(
        f"[{kehu.engine.engine_type}] import {rows} customers from CSV: "
        f"{rows / elapsed:,.0f} rows/s (raw INSERT floor {floor:,.0f} rows/s)"
    )
    print(
        f"[{kehu.engine.engine_type}] export {rows} customers to CSV: {export_s:.2f} s "
        f"(one cursor + csv.writer floor {export_floor:.2f} s)"
    )
    print(
        f"[{kehu.engine.engine_type}] GraphQL list of 50 customers: p50 {p50:.2f} ms over "
        f"{queries} requests (raw SQL floor p50 {raw_p50:.3f} ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("KEHU_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await bench(f"sqlite:///{Path(tmp) / 'bench.db'}", args.rows, args.queries)
    if args.postgres:
        import asyncpg

        conn = await asyncpg.connect(args.postgres)
        await conn.execute('DROP DATABASE IF EXISTS "kehu_bench" WITH (FORCE)')
        await conn.execute('CREATE DATABASE "kehu_bench"')
        await conn.close()
        url = args.postgres.rsplit("/", 1)[0] + "/kehu_bench"
        await bench(url, args.rows, args.queries)


if __name__ == "__main__":
    asyncio.run(main())
