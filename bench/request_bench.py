"""Per-request overhead: ``customer(id:)`` with five fields through Kehu's GraphQL API, next to
its floor measured in the same run — a bare Litestar handler on the same database that runs
the same two statements (the API key with its user, the customer) and returns the same JSON.

Both are driven through ASGI directly (a minimal in-process client: no sockets, no HTTP
client library), sequentially, so the figures are the applications' own per-request work and
the ratio is what Kehu adds: authentication, GraphQL parsing, validation and execution,
visibility.

    .venv/bin/python bench/request_bench.py --requests 2000
    .venv/bin/python bench/request_bench.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, post

from kehu.api.app import create_app
from kehu.core.graphql.base import encode_id
from kehu.core.permissions import system_actor
from kehu.core.runtime import Kehu
from kehu.core.services import customers, users
from kehu.core.settings import Settings

QUERY = "query ($id: ID!) { customer(id: $id) { id name email tier lifecycleStage } }"
KEY_SQL = (
    "SELECT k.key_hash, u.id, u.role, u.team, u.active FROM core_api_key k "
    'JOIN core_user u ON u.id = k."user" WHERE k.prefix = {}'
)
CUSTOMER_SQL = (
    "SELECT id, name, email, tier, lifecycle_stage FROM core_customer "
    "WHERE id = {} AND merged_into IS NULL"
)


def floor_app(kehu: Kehu) -> Litestar:
    """The same two statements behind a bare Litestar handler (no GraphQL, no checks)."""
    from kehu.core.tables import Customer

    @post("/graphql")
    async def handler(request: Request) -> dict[str, Any]:
        token = request.headers["authorization"].removeprefix("Bearer kehu_")
        prefix = token.partition("_")[0]
        body = await request.json()
        pk = int(body["variables"]["pk"])
        await Customer.raw(KEY_SQL, prefix)
        row = (await Customer.raw(CUSTOMER_SQL, pk))[0]
        return {
            "data": {
                "customer": {
                    "id": encode_id("Customer", row["id"]),
                    "name": row["name"],
                    "email": row["email"],
                    "tier": row["tier"],
                    "lifecycleStage": row["lifecycle_stage"].upper(),
                }
            }
        }

    return Litestar([handler])


async def call(app: Any, body: bytes, key: str) -> tuple[int, bytes]:
    """One POST /graphql through the ASGI interface: (status, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {key}".encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def rate(app: Any, body: dict[str, Any], key: str, n: int) -> float:
    """Requests per second of ``n`` sequential requests (after 20 warm-up requests)."""
    raw = json.dumps(body).encode()
    for i in range(n + 20):
        if i == 20:
            start = time.perf_counter()
        status, out = await call(app, raw, key)
        assert status in (200, 201) and b'"errors"' not in out, out[:300]
    return n / (time.perf_counter() - start)


async def bench(url: str, n: int) -> None:
    # rate limiting stays on (each request is counted, as by default) but never refuses
    kehu = Kehu(Settings(database_url=url, plugins=["core"], rate_limit_per_minute=10**9))
    await kehu.start()
    await kehu.migrate()
    actor = system_actor()
    row = await customers.create_customer(actor, {"name": "Bench", "email": "b@example.com"})
    await users.create_user(actor, {"username": "bench", "role": "admin"})
    _, key = await users.create_api_key(actor, "bench")
    gid = encode_id("Customer", row["id"])
    kehu_rate = await rate(
        create_app(kehu=kehu, lifespan=False), {"query": QUERY, "variables": {"id": gid}}, key, n
    )
    floor = await rate(floor_app(kehu), {"variables": {"pk": row["id"]}}, key, n)
    await kehu.stop()
    print(
        f"[{kehu.engine.engine_type}] customer(id:) with 5 fields: {kehu_rate:,.0f} req/s "
        f"(bare Litestar floor, same 2 statements: {floor:,.0f} req/s; "
        f"{floor / kehu_rate:.1f}x, goal <= 8x)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("KEHU_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await bench(f"sqlite:///{Path(tmp) / 'bench.db'}", args.requests)
    if args.postgres:
        import asyncpg

        conn = await asyncpg.connect(args.postgres)
        await conn.execute('DROP DATABASE IF EXISTS "kehu_bench" WITH (FORCE)')
        await conn.execute('CREATE DATABASE "kehu_bench"')
        await conn.close()
        await bench(args.postgres.rsplit("/", 1)[0] + "/kehu_bench", args.requests)


if __name__ == "__main__":
    asyncio.run(main())
