"""CLI test fixtures: a fresh, migrated database per test (SQLite file, and a PostgreSQL
database when KEHU_TEST_POSTGRES_URL is set) and a ``cli`` helper running ``kehu`` through
click's CliRunner. CLI tests are synchronous: the commands call ``asyncio.run`` themselves."""

import asyncio
import itertools
import os
import shutil
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner, Result

from kehu.cli import main
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings
from kehu.core.testing import POSTGRES_ENV

T = TypeVar("T")
_names = itertools.count()


def _pg_admin_url() -> str:
    return os.environ[POSTGRES_ENV]


def _pg_url(name: str) -> str:
    return urlunsplit(urlsplit(_pg_admin_url())._replace(path=f"/{name}"))


async def _pg_execute(*statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_pg_admin_url())
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def pg_create(name: str, template: str | None = None) -> str:
    """A fresh PostgreSQL database (optionally copied from ``template``); returns its URL."""
    create = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', create))
    return _pg_url(name)


def pg_drop(name: str) -> None:
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _unique(prefix: str) -> str:
    return f"kehu_cli_{prefix}_{os.getpid()}_{next(_names)}"


class Cli:
    """Runs ``kehu`` against one database: ``cli("user", "list")`` → click ``Result``."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir

    def env(self, **extra: str | None) -> dict[str, str | None]:
        env: dict[str, str | None] = {
            "KEHU_DATABASE_URL": self.url,
            "KEHU_PLUGINS": "core",
            "KEHU_TRACE_HOOKS": None,
            "COLUMNS": "250",  # rich tables: no wrapped or truncated cells
            "NO_COLOR": "1",
            "TERM": "dumb",
        }
        env.update(extra)
        return env

    def __call__(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        runner = CliRunner()
        return runner.invoke(main, list(args), input=input, env=self.env(**env))

    def ok(self, *args: str, **env: str | None) -> Result:
        result = self(*args, **env)
        assert result.exit_code == 0, (
            f"kehu {' '.join(args)} exited {result.exit_code}\nstdout: {result.stdout}\n"
            f"stderr: {result.stderr}\n{result.exception!r}"
        )
        return result

    def fails(self, *args: str, code: int = 1, **env: str | None) -> str:
        """Run a command expected to fail; returns its one-line reason (stderr)."""
        result = self(*args, **env)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), repr(result.exception)
        reason = result.stderr.strip()
        assert reason.startswith("Error: "), reason
        assert "\n" not in reason, reason
        assert "Traceback" not in result.output
        return reason

    # -- direct database access for assertions ------------------------------------------------

    def rows(self, sql: str) -> list[tuple]:
        if self.url.startswith("sqlite"):
            path = Settings(database_url=self.url).sqlite_path
            with sqlite3.connect(path) as conn:
                return [tuple(r) for r in conn.execute(sql).fetchall()]

        async def fetch() -> list[tuple]:
            import asyncpg

            conn = await asyncpg.connect(self.url)
            try:
                return [tuple(r) for r in await conn.fetch(sql)]
            finally:
                await conn.close()

        return asyncio.run(fetch())

    def count(self, table: str, where: str = "") -> int:
        return self.rows(f"SELECT count(*) FROM {table} {where}")[0][0]

    def run(self, work: Callable[[Kehu], Awaitable[T]]) -> T:
        """Await ``work(kehu)`` with a runtime on this database (services, authenticate...)."""

        async def main() -> T:
            kehu = Kehu(Settings(database_url=self.url, plugins=["core"]))
            await kehu.start()
            try:
                return await work(kehu)
            finally:
                await kehu.stop()

        return asyncio.run(main())


@pytest.fixture(autouse=True)
def _cli_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in its own directory (``kehu.toml`` and files land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def cli_at(tmp_path: Path) -> Callable[[str], Cli]:
    """``cli_at(url)``: ``kehu`` against any database URL (fresh, missing, unsupported)."""
    return lambda url: Cli(url, tmp_path)


@pytest.fixture(scope="session")
def _migrated_template(
    kehu_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database migrated once per session with ``kehu migrate``; tests get copies."""
    tmp = tmp_path_factory.mktemp("cli-template")
    if kehu_backend == "sqlite":
        url = f"sqlite:///{tmp / 'template.db'}"
    else:
        name = _unique("template")
        url = pg_create(name)
    result = Cli(url, tmp).ok("migrate")
    assert "Database migrated (core)" in result.stdout
    yield url
    if kehu_backend == "postgres":
        pg_drop(urlsplit(url).path.lstrip("/"))


@pytest.fixture
def fresh_url(kehu_backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty (not migrated) database URL."""
    if kehu_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = _unique("fresh")
    yield pg_create(name)
    pg_drop(name)


def _copy_database(backend: str, template: str, tmp_path: Path, label: str) -> tuple[str, Any]:
    if backend == "sqlite":
        source = Settings(database_url=template).sqlite_path
        target = tmp_path / f"{label}.db"
        shutil.copyfile(source, target)
        for suffix in ("-wal", "-shm"):
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
        return f"sqlite:///{target}", None
    name = _unique(label)
    return pg_create(name, template=urlsplit(template).path.lstrip("/")), name


@pytest.fixture
def cli(kehu_backend: str, _migrated_template: str, tmp_path: Path) -> Iterator[Cli]:
    """``kehu`` on a fresh, migrated database."""
    url, name = _copy_database(kehu_backend, _migrated_template, tmp_path, "kehu")
    yield Cli(url, tmp_path)
    if name:
        pg_drop(name)


@pytest.fixture
def make_cli(kehu_backend: str, _migrated_template: str, tmp_path: Path) -> Iterator[Any]:
    """``make_cli("other")``: another fresh, migrated database (e.g. to import into)."""
    created: list[str] = []

    def factory(label: str) -> Cli:
        url, name = _copy_database(kehu_backend, _migrated_template, tmp_path, label)
        if name:
            created.append(name)
        return Cli(url, tmp_path)

    yield factory
    for name in created:
        pg_drop(name)
