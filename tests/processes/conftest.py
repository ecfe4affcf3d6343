"""Fixtures for tests that run Kehu as separate processes, as an operator would: a fresh
migrated database (SQLite file, and PostgreSQL when KEHU_TEST_POSTGRES_URL is set), the
``kehu`` command, ``kehu serve`` on a free port, and ``kehu worker``."""

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from kehu.core.testing import POSTGRES_ENV

KEHU = str(Path(sys.executable).with_name("kehu"))
_names = itertools.count()
ALL_PLUGINS = "pipeline,contracts,tickets,incentives,webhooks"


async def _pg(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(os.environ[POSTGRES_ENV])
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


class Deployment:
    """One database and the environment every process of this deployment shares."""

    def __init__(self, url: str, workdir: Path, plugins: str) -> None:
        self.url = url
        self.workdir = workdir
        self.env = {
            **os.environ,
            "KEHU_DATABASE_URL": url,
            "KEHU_PLUGINS": plugins,
            "KEHU_EVENT_POLL_SECONDS": "0.2",
            "NO_COLOR": "1",
            "COLUMNS": "250",
        }
        self.env.pop("KEHU_TRACE_HOOKS", None)
        self.processes: list[subprocess.Popen] = []

    def kehu(self, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [KEHU, *args],
            cwd=self.workdir,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kehu {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        """``kehu <args>`` in the background (stopped at the end of the test)."""
        log = open(self.workdir / f"proc-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [KEHU, *args],
            cwd=self.workdir,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log_path = log.name  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    def serve(self, **env: str) -> tuple[subprocess.Popen, str]:
        """``kehu serve`` on a free port; returns the process and its base URL once healthy."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = self.start("serve", "--host", "127.0.0.1", "--port", str(port), **env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"kehu serve exited: {self.log(process)}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    return process, base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"kehu serve did not start: {self.log(process)}")

    @staticmethod
    def log(process: subprocess.Popen) -> str:
        return Path(process.log_path).read_text()  # type: ignore[attr-defined]

    @staticmethod
    def kill9(process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)

    def run(self, work: Any, **settings: Any) -> Any:
        """Await ``work(kehu)`` in this process, with a runtime on the deployment's database."""
        from kehu.core.runtime import Kehu
        from kehu.core.settings import Settings

        async def main() -> Any:
            kehu = Kehu(
                Settings(
                    database_url=self.url, plugins=self.env["KEHU_PLUGINS"].split(","), **settings
                )
            )
            await kehu.start()
            try:
                return await work(kehu)
            finally:
                await kehu.stop()

        return asyncio.run(main())

    def graphql(self, base: str, key: str, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(
            f"{base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database that exists but holds nothing."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'kehu.db'}"
        return
    name = f"kehu_proc_{os.getpid()}_{next(_names)}"
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'))
    yield urlunsplit(urlsplit(os.environ[POSTGRES_ENV])._replace(path=f"/{name}"))
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def deployment(empty_url: str, tmp_path: Path) -> Iterator[Deployment]:
    """A migrated database with the built-in plugins (demo-free) and its processes."""
    deploy = Deployment(empty_url, tmp_path, ALL_PLUGINS)
    deploy.kehu("migrate")
    yield deploy
    deploy.stop_all()
