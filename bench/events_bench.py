"""Event delivery benchmark, each figure next to its floor measured in the same run:

- commit-to-delivery lag of a webhook (p50, p95) at a steady write rate, served by
  ``kehu serve`` alone, next to one plain HTTP POST to the same receiver;
- events delivered per second by one ``kehu worker`` to one webhook endpoint, next to plain
  sequential POSTs of the same bodies over one keep-alive connection;
- write-request latency (``createCustomer`` over HTTP) without and with an active webhook,
  next to ``GET /health``.

    python bench/events_bench.py [--rate 20] [--seconds 10] [--requests 200] [--events 3000]
                                 [--postgres URL]

PostgreSQL is measured too when --postgres or KEHU_TEST_POSTGRES_URL is given.
"""

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from kehu.core.testing import HttpReceiver

KEHU = str(Path(sys.executable).with_name("kehu"))
CREATE = "mutation($n: String!) { createCustomer(input: {name: $n}) { customer { id } } }"
TOML = """
[plugin_settings.webhooks]
allowed_hosts = ["127.0.0.1"]
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


class Deployment:
    def __init__(self, url: str, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "kehu.toml").write_text(TOML)
        self.env = {**os.environ, "KEHU_DATABASE_URL": url, "KEHU_PLUGINS": "webhooks"}
        self.procs: list[subprocess.Popen] = []

    def kehu(self, *args: str) -> str:
        done = subprocess.run(
            [KEHU, *args],
            cwd=self.workdir,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def start(self, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [KEHU, *args],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    def serve(self) -> tuple[subprocess.Popen, str]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        proc = self.start("serve", "--host", "127.0.0.1", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    return proc, base
            except httpx.HTTPError:
                time.sleep(0.1)
        raise SystemExit("kehu serve did not start")


def write_latencies(client: httpx.Client, key: str, n: int, tag: str) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        r = client.post(
            "/graphql",
            json={"query": CREATE, "variables": {"n": f"{tag} {i}"}},
            headers={"Authorization": f"Bearer {key}"},
        )
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200 and "errors" not in r.json(), r.text
    return out


def health_latencies(client: httpx.Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.get("/health")
        out.append(time.perf_counter() - t0)
    return out


def wait_for(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def bench(url: str, label: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        deploy = Deployment(url, Path(tmp))
        receiver = HttpReceiver().start()
        try:
            run(deploy, receiver, label, args)
        finally:
            for proc in deploy.procs:
                if proc.poll() is None:
                    deploy.stop(proc)
            receiver.stop()


def run(deploy: Deployment, receiver: HttpReceiver, label: str, args: argparse.Namespace) -> None:
    deploy.kehu("migrate")
    deploy.kehu("user", "add", "bench", "--role", "admin")
    key = deploy.kehu("apikey", "create", "--user", "bench").strip()
    server, base = deploy.serve()
    with httpx.Client(base_url=base, timeout=30) as client:
        write_latencies(client, key, 20, "warm")
        without = write_latencies(client, key, args.requests, "plain")
        health = health_latencies(client, args.requests)
        deploy.kehu("webhooks", "add", receiver.url + "/hook", "--events", "customer.*")
        with_hook = write_latencies(client, key, args.requests, "hooked")
        wait_for(lambda: len(receiver.received()) >= args.requests, 60)

        # lag at a steady rate
        receiver.requests.clear()
        sent = int(args.rate * args.seconds)
        for i in range(sent):
            t0 = time.perf_counter()
            client.post(
                "/graphql",
                json={"query": CREATE, "variables": {"n": f"rate {i}"}},
                headers={"Authorization": f"Bearer {key}"},
            )
            time.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - t0)))
        wait_for(lambda: len(receiver.received()) >= sent, 60)
    lags = []
    for request in receiver.received():
        body = request.json()
        arrived = request.wall
        lags.append(arrived - datetime.fromisoformat(body["timestamp"]).timestamp())
    sample = receiver.received()[0].body if receiver.received() else b"{}"
    with httpx.Client(timeout=10) as plain:
        direct = []
        for _ in range(200):
            t0 = time.perf_counter()
            plain.post(receiver.url + "/floor", content=sample)
            direct.append(time.perf_counter() - t0)
    deploy.stop(server)

    # one worker's throughput: a backlog of events, then `kehu worker`
    rows = "name\n" + "".join(f"Backlog {i:06d}\n" for i in range(args.events))
    csv_path = deploy.workdir / "backlog.csv"
    csv_path.write_text(rows)
    deploy.kehu("import", "customers", str(csv_path))
    receiver.requests.clear()
    t0 = time.perf_counter()
    worker = deploy.start("worker", "--poll", "3600")
    done = wait_for(lambda: len(receiver.received("/hook")) >= args.events, 600)
    elapsed = time.perf_counter() - t0
    deploy.stop(worker)
    delivered = len(receiver.received("/hook"))
    bodies = [r.body for r in receiver.received("/hook")][: args.events]
    with httpx.Client(timeout=10) as plain:
        t1 = time.perf_counter()
        for body in bodies:
            plain.post(receiver.url + "/floor", content=body)
        floor_rate = len(bodies) / (time.perf_counter() - t1)

    print(
        f"[{label}] webhook lag commit→delivery at {args.rate}/s for {args.seconds}s: "
        f"p50 {pct(lags, 0.5):.1f} ms, p95 {pct(lags, 0.95):.1f} ms "
        f"({len(lags)} events; floor: one direct POST p50 {pct(direct, 0.5):.2f} ms)"
    )
    print(
        f"[{label}] one worker delivered {delivered} events in {elapsed:.1f} s: "
        f"{delivered / elapsed:,.0f} events/s{'' if done else ' (timed out)'} "
        f"(floor: sequential keep-alive POSTs {floor_rate:,.0f}/s; includes worker start-up)"
    )
    print(
        f"[{label}] createCustomer over HTTP: without webhook p50 {pct(without, 0.5):.2f} ms "
        f"p95 {pct(without, 0.95):.2f} ms; with an active webhook p50 "
        f"{pct(with_hook, 0.5):.2f} ms p95 {pct(with_hook, 0.95):.2f} ms "
        f"(floor: GET /health p50 {pct(health, 0.5):.2f} ms)"
    )
    print(
        f"[{label}] median write overhead of the webhook: "
        f"{(statistics.median(with_hook) - statistics.median(without)) * 1000:+.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--postgres", default=os.environ.get("KEHU_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{Path(tmp) / 'bench.db'}", "sqlite", args)
    if args.postgres:
        import asyncpg

        async def fresh() -> None:
            conn = await asyncpg.connect(args.postgres)
            await conn.execute('DROP DATABASE IF EXISTS "kehu_events_bench" WITH (FORCE)')
            await conn.execute('CREATE DATABASE "kehu_events_bench"')
            await conn.close()

        asyncio.run(fresh())
        bench(args.postgres.rsplit("/", 1)[0] + "/kehu_events_bench", "postgres", args)


if __name__ == "__main__":
    main()
