"""Pytest fixtures for Kehu and its plugins (registered as the ``kehu`` pytest11 plugin).

Every test using ``kehu`` runs on SQLite and, when ``KEHU_TEST_POSTGRES_URL`` is set, again on
PostgreSQL. A database is migrated once per (backend, plugin set) and emptied before each test.
Override the ``kehu_plugins`` fixture (``None`` = all installed) to pick plugins.

Set ``asyncio_default_fixture_loop_scope = "session"`` and
``asyncio_default_test_loop_scope = "session"`` in your pytest configuration.
"""

import hashlib
import itertools
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import pytest_asyncio

from kehu.core.db import is_sqlite
from kehu.core.permissions import Actor, system_actor
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings

POSTGRES_ENV = "KEHU_TEST_POSTGRES_URL"


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(scope="session", params=_backends())
def kehu_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres``: the database this test runs on."""
    return request.param


@pytest.fixture
def kehu_plugins() -> list[str] | None:
    """Plugins to enable (``None``: every installed plugin). Override in a conftest or test
    module to test a plugin set."""
    return None


@pytest.fixture
def kehu_settings_overrides() -> dict[str, Any]:
    """Extra ``Settings`` fields for the test runtime (override to change behaviour)."""
    return {}


async def _postgres_database(base_url: str, name: str) -> str:
    """A fresh PostgreSQL database ``name`` on the server of ``base_url``."""
    import asyncpg

    conn = await asyncpg.connect(base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class _Runtimes:
    """Migrated runtimes, one per (backend, plugins, overrides), kept for the session."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.cache: dict[str, Kehu] = {}
        self.databases: list[str] = []

    async def get(self, backend: str, plugins: list[str] | None, overrides: dict) -> Kehu:
        key = f"{backend}:{plugins}:{sorted(overrides.items())}"
        kehu = self.cache.get(key)
        if kehu is None:
            digest = hashlib.sha1(key.encode()).hexdigest()[:10]
            if backend == "sqlite":
                url = f"sqlite:///{self.tmp / f'kehu-{digest}.db'}"
            else:
                # per process: parallel test sessions on one server must not share databases
                name = f"kehu_test_{digest}_{os.getpid()}"
                url = await _postgres_database(os.environ[POSTGRES_ENV], name)
                self.databases.append(name)
            # undeclared events fail the test (the catalogue stays true); override to relax
            overrides = {"strict_events": True, **overrides}
            settings = Settings(database_url=url, plugins=plugins, _env_file=None, **overrides)
            kehu = Kehu(settings)
            await kehu.start()
            await kehu.migrate()
            self.cache[key] = kehu
        kehu.activate()
        return kehu

    async def close(self) -> None:
        for kehu in self.cache.values():
            await kehu.stop()
        if self.databases:
            import asyncpg

            conn = await asyncpg.connect(os.environ[POSTGRES_ENV])
            try:
                for name in self.databases:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _kehu_runtimes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[_Runtimes]:
    runtimes = _Runtimes(tmp_path_factory.mktemp("kehu"))
    yield runtimes
    await runtimes.close()


async def truncate_all(kehu: Kehu) -> None:
    """Delete every row of every enabled table (migrations table kept)."""
    kehu.events.forget()
    names = [t._meta.tablename for t in kehu.tables()]
    if is_sqlite(kehu.engine):
        from kehu.core.db import write_transaction

        async with write_transaction():
            await kehu.engine.run_ddl("PRAGMA defer_foreign_keys = ON")
            for name in reversed(names):
                await kehu.engine.run_ddl(f'DELETE FROM "{name}"')
    else:
        quoted = ", ".join(f'"{n}"' for n in names)
        await kehu.engine.run_ddl(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")


@pytest_asyncio.fixture(loop_scope="session")
async def kehu(
    _kehu_runtimes: _Runtimes,
    kehu_backend: str,
    kehu_plugins: list[str] | None,
    kehu_settings_overrides: dict[str, Any],
) -> Kehu:
    """A migrated, empty, active Kehu runtime on the current backend."""
    runtime = await _kehu_runtimes.get(kehu_backend, kehu_plugins, kehu_settings_overrides)
    await truncate_all(runtime)
    return runtime


@pytest.fixture
def system() -> Actor:
    """The system actor (acts as admin; audit actor ``None``)."""
    return system_actor()


@dataclass
class TestUser:
    """A user with an API key: ``actor`` for service calls, ``key`` for HTTP."""

    __test__ = False

    id: int
    username: str
    role: str
    team_id: int | None
    key: str
    actor: Actor
    gid: str


_counter = itertools.count(1)


@pytest.fixture
def make_user(kehu: Kehu) -> Any:
    """``await make_user("sales", team="North")`` creates a user with an API key."""
    from kehu.core.graphql.base import encode_id
    from kehu.core.services import users

    async def factory(
        role: str = "admin", team: str | None = None, username: str | None = None
    ) -> TestUser:
        system = system_actor()
        team_id = None
        if team is not None:
            try:
                team_id = (await users.team_by_name(team))["id"]
            except Exception:
                team_id = (await users.create_team(system, team))["id"]
        name = username or f"{role}{next(_counter)}"
        row = await users.create_user(
            system, {"username": name, "role": role, "team": team_id, "display_name": name.title()}
        )
        _, key = await users.create_api_key(system, name, "test")
        return TestUser(
            row["id"], name, role, team_id, key, users.actor_for(row), encode_id("User", row["id"])
        )

    return factory


class GraphQLClient:
    """Posts GraphQL over HTTP to the Litestar app with a Bearer key."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def __call__(
        self,
        query: str,
        variables: dict | None = None,
        *,
        user: TestUser | None = None,
        key: str | None = None,
        expect_errors: bool = False,
    ) -> dict[str, Any]:
        headers = {}
        token = key or (user.key if user else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if not expect_errors:
            assert not body.get("errors"), body["errors"]
        return body


@pytest_asyncio.fixture(loop_scope="session")
async def kehu_client(kehu: Kehu) -> AsyncIterator[Any]:
    """An ``httpx.AsyncClient`` calling the app in the test's event loop (Litestar's own test
    client runs the app in another thread's loop, which a database pool cannot cross)."""
    import httpx

    from kehu.api.app import create_app

    app = create_app(kehu=kehu, lifespan=False)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # ASGI scope typing differs
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
def gql(kehu_client: Any) -> GraphQLClient:
    """``await gql(query, variables, user=u)`` → the response JSON (errors asserted absent
    unless ``expect_errors=True``)."""
    return GraphQLClient(kehu_client)


# -- real peers for integrations: an HTTP receiver and an SMTP server ----------------------


@dataclass
class ReceivedRequest:
    """A request the HTTP receiver got."""

    __test__ = False

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    wall: float = 0.0  # time.time(), to compare with timestamps in payloads

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class HttpReceiver:
    """A real HTTP server on 127.0.0.1 (uvicorn, in its own thread) that records requests and
    answers as ``respond(request) -> (status, body, delay_seconds)`` says (default 200)."""

    __test__ = False

    def __init__(self) -> None:
        import threading

        self.requests: list[ReceivedRequest] = []
        self.respond: Any = lambda request: (200, b"ok", 0.0)
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: Any = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    async def _app(self, scope: dict, receive: Any, send: Any) -> None:
        import asyncio
        import time

        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = ReceivedRequest(
            scope["method"],
            scope["path"],
            {k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body,
            time.monotonic(),
            time.time(),
        )
        with self._lock:
            self.requests.append(request)
        status, content, delay = self.respond(request)
        if delay:
            await asyncio.sleep(delay)
        headers = [(b"content-type", b"text/plain")]
        if 300 <= status < 400:
            headers.append((b"location", b"http://127.0.0.1:9/elsewhere"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def start(self) -> "HttpReceiver":
        import socket
        import threading
        import time

        import uvicorn

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = self._server.force_exit = True
            self._thread.join(timeout=10)


@pytest.fixture
def http_receiver() -> Any:
    """A real HTTP server on 127.0.0.1 recording requests (webhook tests):
    ``http_receiver.url``, ``.received()``, ``.respond = lambda req: (status, body, delay)``."""
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) keeping the messages it receives."""

    __test__ = False

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted for delivery"

    def start(self) -> "SmtpServer":
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


@pytest.fixture
def smtp_server() -> Any:
    """A real SMTP server on 127.0.0.1 (aiosmtpd): ``smtp_server.url`` for ``smtp_url``,
    ``smtp_server.messages`` (``email.message.EmailMessage``)."""
    server = SmtpServer().start()
    yield server
    server.stop()


async def eventually(check: Any, kehu: Kehu | None = None, timeout: float = 10.0) -> Any:
    """Deliver what is due (``kehu.events.drain``) until ``check()`` is truthy; returns it."""
    import asyncio
    import inspect
    import time

    deadline = time.monotonic() + timeout
    while True:
        if kehu is not None:
            await kehu.events.drain(timeout=max(0.1, deadline - time.monotonic()))
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


class CliRunnerForKehu:
    """Runs ``kehu`` commands (click's runner, in a thread with its own event loop) against
    the test runtime's database and plugins; the test runtime is active again afterwards."""

    __test__ = False

    def __init__(self, kehu: Kehu) -> None:
        self.kehu = kehu

    def _env(self, extra: dict[str, str | None]) -> dict[str, str | None]:
        import json

        settings = self.kehu.settings
        env: dict[str, str | None] = {
            "KEHU_DATABASE_URL": settings.database_url,
            "KEHU_PLUGINS": ",".join(self.kehu.names),
            "KEHU_PLUGIN_SETTINGS": json.dumps(settings.plugin_settings),
            "KEHU_TRACE_HOOKS": None,
            "COLUMNS": "250",
            "NO_COLOR": "1",
        }
        env.update(extra)
        return env

    async def __call__(self, *args: str, input: str | None = None, **env: str | None) -> Any:
        """The click ``Result`` (``exit_code``, ``stdout``, ``stderr``)."""
        import asyncio

        from click.testing import CliRunner

        from kehu.cli import main

        def invoke() -> Any:
            return CliRunner().invoke(main, list(args), input=input, env=self._env(env))

        try:
            return await asyncio.to_thread(invoke)
        finally:
            self.kehu.activate()

    async def ok(self, *args: str, **env: str | None) -> Any:
        """Run a command that must succeed; returns its result."""
        result = await self(*args, **env)
        assert result.exit_code == 0, (
            f"kehu {' '.join(args)} exited {result.exit_code}: {result.stdout}{result.stderr}"
            f"{result.exception!r}"
        )
        return result

    async def fails(self, *args: str, code: int = 1, **env: str | None) -> str:
        """Run a command that must fail with ``code``; returns its one-line reason."""
        result = await self(*args, **env)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        reason = result.stderr.strip()
        assert reason.startswith("Error: ") and "\n" not in reason, reason
        return reason


@pytest.fixture
def kehu_cli(kehu: Kehu) -> CliRunnerForKehu:
    """``await kehu_cli.ok("loyalty", "balance", "7")``: run ``kehu`` commands (yours
    included) against the test database; ``.fails(...)`` returns the one-line reason."""
    return CliRunnerForKehu(kehu)
