"""The ``events`` subscription as a client sees it: ``kehu serve`` subprocesses on a fresh,
migrated database (SQLite and PostgreSQL), users and keys made with the ``kehu`` CLI, writes
over HTTP (httpx) and graphql-transport-ws over a real websocket (``websockets``).

One server per backend serves the module (tests tell their events apart by the entities they
create); the two-process test starts a second server on the same database. PostgreSQL
servers poll only every minute, so an event written by another process can only arrive
quickly through LISTEN/NOTIFY; SQLite servers poll every second (the default)."""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from kehu.core.graphql.base import decode_id, encode_id
from kehu.core.testing import POSTGRES_ENV

PROTOCOL = "graphql-transport-ws"
KEHU = str(Path(sys.executable).with_name("kehu"))
PG_POLL_SECONDS = "60"  # PostgreSQL: cross-process events must come by NOTIFY

EVENTS = """subscription($names: [String!], $after: Int) {
  events(names: $names, after: $after) {
    id seq eventId name entity entityId entityNodeId customerId actorId data version occurredAt
  } }"""
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id databaseId version } errors { message } } }"""
UPDATE_CUSTOMER = """mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { version } errors { message } } }"""
ARCHIVE_CUSTOMER = """mutation($input: CustomerRefInput!) {
  archiveCustomer(input: $input) { customer { archived } errors { message } } }"""
CREATE_TICKET = """mutation($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id } errors { message } } }"""
HEAD = "{ domainEvents(first: 1) { nodes { seq } } }"


# -- processes ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A ``kehu serve`` subprocess."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


class Stack:
    """A database, its users' keys and the servers started on it (all stopped at the end)."""

    a: Server  # the module's server

    def __init__(self, backend: str, url: str, workdir: Path) -> None:
        self.backend = backend
        self.url = url
        self.workdir = workdir
        self.servers: list[Server] = []
        self.keys: dict[str, str] = {}
        self.user_ids: dict[str, int] = {}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEHU_")}
        env.update(
            KEHU_DATABASE_URL=self.url,
            KEHU_PLUGINS="core,tickets",
            KEHU_STRICT_EVENTS="true",
            NO_COLOR="1",
            TERM="dumb",
        )
        if self.backend == "postgres":
            env["KEHU_EVENT_POLL_SECONDS"] = PG_POLL_SECONDS
        return env

    def kehu(self, *commands: tuple[str, ...]) -> list[str]:
        """Run ``kehu`` commands side by side; their stdout, in order."""
        running = [
            subprocess.Popen(
                [KEHU, *args],
                cwd=self.workdir,
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for args in commands
        ]
        results = [process.communicate(timeout=60) for process in running]
        for args, process, (out, err) in zip(commands, running, results, strict=True):
            assert process.returncode == 0, (args, out.decode(), err.decode())
        return [out.decode() for out, _ in results]

    def serve(self) -> Server:
        """Start a server (``wait_ready`` before using it)."""
        server = Server(*self._spawn())
        self.servers.append(server)
        return server

    def _spawn(self) -> tuple[subprocess.Popen[bytes], int, Path]:
        port = _free_port()
        log = self.workdir / f"serve-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [KEHU, "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=self.workdir,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return process, port, log

    def wait_ready(self, server: Server, timeout: float = 30.0) -> Server:
        deadline = time.monotonic() + timeout
        retries = 2  # the free port was taken meanwhile
        while True:
            if server.process.poll() is not None:
                if retries and "address already in use" in server.output().lower():
                    retries -= 1
                    server.process, server.port, server.log = self._spawn()
                    continue
                pytest.fail(f"kehu serve exited {server.process.returncode}:\n{server.output()}")
            try:
                response = httpx.get(f"{server.url}/health", timeout=1.0)
                if response.status_code == 200 and response.json()["status"] == "ok":
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"kehu serve not healthy after {timeout}s:\n{server.output()}")
            time.sleep(0.05)

    def stop(self, *servers: Server) -> None:
        """Terminate (all at once, then wait); kill what does not stop."""
        chosen = list(servers) or list(self.servers)
        for server in chosen:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in chosen:
            try:
                server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=5)
            if server in self.servers:
                self.servers.remove(server)


async def _pg(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(os.environ[POSTGRES_ENV])
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _pg_database(name: str, create: bool) -> str:
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if create:
        asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    base = urlsplit(os.environ[POSTGRES_ENV])
    return urlunsplit(base._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def stack(kehu_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A migrated database with users ``admin``, ``rep1``, ``rep2`` (sales: their own
    customers only) and their keys, all made with the CLI, and server ``a`` serving it."""
    workdir = tmp_path_factory.mktemp(f"subscriptions-{kehu_backend}")
    pg_name = f"kehu_subscriptions_{os.getpid()}"
    if kehu_backend == "sqlite":
        url = f"sqlite:///{workdir / 'kehu.db'}"
    else:
        url = _pg_database(pg_name, create=True)
    s = Stack(kehu_backend, url, workdir)
    try:
        assert "Database migrated (core, tickets)" in s.kehu(("migrate",))[0]
        s.a = s.serve()  # starts while the users are made
        roles = {"admin": "admin", "rep1": "sales", "rep2": "sales"}
        added = s.kehu(*[("user", "add", name, "--role", role) for name, role in roles.items()])
        for name, out in zip(roles, added, strict=True):
            s.user_ids[name] = int(out.split("(id ", 1)[1].split(",", 1)[0])
        keys = s.kehu(*[("apikey", "create", "--user", name) for name in roles])
        s.keys = {name: out.strip() for name, out in zip(roles, keys, strict=True)}
        assert all(k.startswith("kehu_") for k in s.keys.values()), s.keys
        s.wait_ready(s.a)
        yield s
    finally:
        s.stop()
        if kehu_backend == "postgres":
            _pg_database(pg_name, create=False)
        shutil.rmtree(workdir, ignore_errors=True)


# -- clients -----------------------------------------------------------------------------


class Api:
    """GraphQL over HTTP to one server."""

    def __init__(self, server: Server) -> None:
        self.client = httpx.AsyncClient(base_url=server.url, timeout=30.0)

    async def gql(self, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    async def customer(self, key: str, label: str = "Customer", **fields: Any) -> int:
        """Create a customer (unique name); its database id."""
        data = {"name": f"{label} {uuid.uuid4().hex[:10]}", **fields}
        out = (await self.gql(key, CREATE_CUSTOMER, {"input": data}))["createCustomer"]
        assert out["errors"] == [], out
        return out["customer"]["databaseId"]

    async def update(self, key: str, pk: int, version: int, **fields: Any) -> None:
        data = {"id": encode_id("Customer", pk), "expectedVersion": version, **fields}
        out = (await self.gql(key, UPDATE_CUSTOMER, {"input": data}))["updateCustomer"]
        assert out["errors"] == [], out

    async def archive(self, key: str, pk: int) -> None:
        out = await self.gql(key, ARCHIVE_CUSTOMER, {"input": {"id": encode_id("Customer", pk)}})
        assert out["archiveCustomer"]["errors"] == [], out

    async def ticket(self, key: str, customer: int) -> int:
        data = {
            "customerId": encode_id("Customer", customer),
            "subject": "Invoice wrong",
            "channel": "EMAIL",
        }
        out = (await self.gql(key, CREATE_TICKET, {"input": data}))["createTicket"]
        assert out["errors"] == [], out
        return decode_id(out["ticket"]["id"])[1]

    async def head(self, admin_key: str) -> int:
        """The newest outbox position."""
        nodes = (await self.gql(admin_key, HEAD))["domainEvents"]["nodes"]
        return nodes[0]["seq"] if nodes else 0

    async def close(self) -> None:
        await self.client.aclose()


class Socket:
    """A graphql-transport-ws client: messages are kept per operation id."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.inbox: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.loose: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, server: Server, header_key: str | None = None) -> "Socket":
        headers = {"Authorization": f"Bearer {header_key}"} if header_key else None
        ws = await websockets.connect(
            server.ws_url, subprotocols=[PROTOCOL], additional_headers=headers, open_timeout=10
        )
        assert ws.subprotocol == PROTOCOL
        return cls(ws)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def _receive(self, timeout: float) -> dict[str, Any]:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        if message["type"] == "ping":
            await self.send({"type": "pong"})
        return message

    async def init(self, key: str | None = None) -> None:
        init: dict[str, Any] = {"type": "connection_init"}
        if key is not None:
            init["payload"] = {"Authorization": f"Bearer {key}"}
        await self.send(init)
        ack = await self._receive(10)
        assert ack["type"] == "connection_ack", ack

    async def subscribe(self, op: str, names: list[str] | None = None, after: Any = None) -> None:
        variables = {"names": names, "after": after}
        await self.send(
            {"id": op, "type": "subscribe", "payload": {"query": EVENTS, "variables": variables}}
        )

    async def message(self, op: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next message of operation ``op``."""
        deadline = time.monotonic() + timeout
        while not self.inbox[op]:
            message = await self._receive(max(0.001, deadline - time.monotonic()))
            if "id" in message:
                self.inbox[message["id"]].append(message)
            elif message["type"] not in ("ping", "pong"):
                self.loose.append(message)
        return self.inbox[op].pop(0)

    async def event(self, op: str, timeout: float = 10.0) -> dict[str, Any]:
        message = await self.message(op, timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]["events"]

    async def events_until(
        self, op: str, last: Callable[[dict[str, Any]], bool], timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Events of ``op`` up to and including the first for which ``last`` is true."""
        deadline = time.monotonic() + timeout
        got: list[dict[str, Any]] = []
        while not got or not last(got[-1]):
            try:
                got.append(await self.event(op, max(0.001, deadline - time.monotonic())))
            except TimeoutError:
                pytest.fail(f"timed out; events of {op!r} so far: {summary(got)}")
        return got

    async def complete(self, op: str) -> None:
        await self.send({"id": op, "type": "complete"})

    async def close(self) -> None:
        await self.ws.close()


def summary(events: list[dict[str, Any]]) -> list[tuple[int, str, int | None]]:
    return [(e["seq"], e["name"], e["entityId"]) for e in events]


def created(pk: int) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["name"] == "customer.created" and e["entityId"] == pk


def assert_ordered(events: list[dict[str, Any]]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), f"not in commit order or repeated: {summary(events)}"


@pytest.fixture
async def connect(stack: Stack) -> Any:
    """``await connect(server, header_key=None)`` → an open Socket, closed at the end."""
    opened: list[Socket] = []

    async def factory(server: Server | None = None, header_key: str | None = None) -> Socket:
        socket_ = await Socket.open(server or stack.a, header_key)
        opened.append(socket_)
        return socket_

    yield factory
    for socket_ in opened:
        await socket_.close()


@pytest.fixture
async def api(stack: Stack) -> Any:
    client = Api(stack.a)
    yield client
    await client.close()


async def go_live(ws: Socket, op: str, api: Api, key: str) -> list[dict[str, Any]]:
    """Subscription ``op`` (no ``after``: from now) runs once a customer created after it
    arrives: create one, wait a little, again. Every event up to the newest such customer."""
    made: list[int] = []
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while not got:
        assert time.monotonic() < deadline, "the subscription never delivered"
        made.append(await api.customer(key, "Probe"))
        try:
            got.append(await ws.event(op, 0.3))
        except TimeoutError:
            continue
    if not created(made[-1])(got[-1]):
        got += await ws.events_until(op, created(made[-1]))
    # nothing from before the subscription, nothing lost since its first event
    assert {e["name"] for e in got} == {"customer.created"}, summary(got)
    assert [e["entityId"] for e in got] == made[-len(got) :], (summary(got), made)
    return got


# -- tests -------------------------------------------------------------------------------


async def test_events_arrive_in_commit_order_after_http_mutations(stack, api, connect):
    admin = stack.keys["admin"]
    ws = await connect()
    await ws.init(admin)
    await ws.subscribe("all")
    await go_live(ws, "all", api, admin)

    one = await api.customer(admin)
    two = await api.customer(admin)
    await api.update(admin, one, 1, industry="Retail")
    await api.archive(admin, two)
    ticket = await api.ticket(admin, one)
    three = await api.customer(admin)

    got = await ws.events_until("all", created(three))
    assert_ordered(got)
    assert [(e["name"], e["entityId"]) for e in got] == [
        ("customer.created", one),
        ("customer.created", two),
        ("customer.updated", one),
        ("customer.archived", two),
        ("ticket.created", ticket),
        ("customer.created", three),
    ]

    first = got[0]
    assert first["entity"] == "customer" and first["entityId"] == one
    assert first["entityNodeId"] == encode_id("Customer", one)
    assert first["customerId"] == one and first["actorId"] == stack.user_ids["admin"]
    assert first["data"]["name"].startswith("Customer ") and first["version"] == 1
    assert first["id"] == encode_id("DomainEvent", first["seq"])
    assert len(first["eventId"]) >= 16 and first["occurredAt"]
    assert next(e for e in got if e["name"] == "customer.updated")["data"]["industry"] == "Retail"

    await ws.complete("all")
    await api.customer(admin)
    with pytest.raises(TimeoutError):  # completed: nothing more
        await ws.message("all", 0.5)


async def test_a_new_subscription_starts_now_not_where_the_last_one_stopped(stack, api, connect):
    admin = stack.keys["admin"]
    ws = await connect()
    await ws.init(admin)
    await ws.subscribe("first")
    await go_live(ws, "first", api, admin)
    await ws.close()
    await asyncio.sleep(0.5)  # the server has seen it go: the feed is idle

    before = await api.customer(admin, "Before")  # no one subscribed
    ws = await connect()
    await ws.init(admin)
    await ws.subscribe("second")
    got = await go_live(ws, "second", api, admin)  # asserts only probes came
    assert before not in {e["entityId"] for e in got}


async def test_names_globs_filter(stack, api, connect):
    admin = stack.keys["admin"]
    head = await api.head(admin)
    ws = await connect()
    await ws.init(admin)
    await ws.subscribe("tickets", ["ticket.*"], head)
    await ws.subscribe("customers", ["customer.*"], head)
    await ws.subscribe("created", ["*.created"], head)
    await ws.subscribe("exact", ["customer.updated", "ticket.created"], head)

    acme = await api.customer(admin, "Acme")
    t1 = await api.ticket(admin, acme)
    await api.update(admin, acme, 1, region="North")
    t2 = await api.ticket(admin, acme)
    end = await api.customer(admin, "End")

    def ticket_created(pk: int) -> Callable[[dict[str, Any]], bool]:
        return lambda e: e["name"] == "ticket.created" and e["entityId"] == pk

    tickets = await ws.events_until("tickets", ticket_created(t2))
    customers = await ws.events_until("customers", created(end))
    created_ = await ws.events_until("created", created(end))
    exact = await ws.events_until("exact", ticket_created(t2))
    for got in (tickets, customers, created_, exact):
        assert_ordered(got)

    assert [(e["name"], e["entityId"]) for e in tickets] == [
        ("ticket.created", t1),
        ("ticket.created", t2),
    ]
    assert all(e["entity"] == "ticket" and e["customerId"] == acme for e in tickets)
    assert [(e["name"], e["entityId"]) for e in customers] == [
        ("customer.created", acme),
        ("customer.updated", acme),
        ("customer.created", end),
    ]
    assert [(e["name"], e["entityId"]) for e in created_] == [
        ("customer.created", acme),
        ("ticket.created", t1),
        ("ticket.created", t2),
        ("customer.created", end),
    ]
    assert [(e["name"], e["entityId"]) for e in exact] == [
        ("ticket.created", t1),
        ("customer.updated", acme),
        ("ticket.created", t2),
    ]


async def test_sales_reps_receive_only_events_of_customers_they_may_see(stack, api, connect):
    admin, rep1, rep2 = (stack.keys[n] for n in ("admin", "rep1", "rep2"))
    owner = {n: encode_id("User", stack.user_ids[n]) for n in ("rep1", "rep2")}
    head = await api.head(admin)
    ws1 = await connect(header_key=rep1)  # the upgrade request's Authorization header
    await ws1.init()
    await ws1.subscribe("mine", None, head)
    ws2 = await connect()  # the connection_init payload
    await ws2.init(rep2)
    await ws2.subscribe("mine", None, head)

    theirs = await api.customer(admin, "Theirs", ownerId=owner["rep2"])
    ours = await api.customer(admin, "Ours", ownerId=owner["rep1"])
    await api.update(admin, theirs, 1, industry="Mining")
    own = await api.customer(rep1, "Own")
    ticket = await api.ticket(admin, theirs)
    end1 = await api.customer(admin, "End", ownerId=owner["rep1"])
    end2 = await api.customer(admin, "End", ownerId=owner["rep2"])

    got1 = await ws1.events_until("mine", created(end1))
    assert [(e["name"], e["customerId"]) for e in got1] == [
        ("customer.created", ours),
        ("customer.created", own),
        ("customer.created", end1),
    ]
    assert_ordered(got1)
    got2 = await ws2.events_until("mine", created(end2))
    assert [(e["name"], e["entityId"]) for e in got2] == [
        ("customer.created", theirs),
        ("customer.updated", theirs),
        ("ticket.created", ticket),  # sales reps see the tickets of their customers
        ("customer.created", end2),
    ]
    assert_ordered(got2)


async def test_after_replays_the_backlog_then_continues_live(stack, api, connect):
    admin = stack.keys["admin"]
    start = await api.head(admin)
    backlog = [await api.customer(admin, "Backlog") for _ in range(3)]
    ws = await connect()
    await ws.init(admin)
    await ws.subscribe("resume", ["customer.created"], start)
    replayed = await ws.events_until("resume", created(backlog[-1]), timeout=10)
    assert [e["entityId"] for e in replayed] == backlog
    assert replayed[0]["seq"] > start

    live = [await api.customer(admin, "Live") for _ in range(2)]
    got = await ws.events_until("resume", created(live[-1]))
    assert [e["entityId"] for e in got] == live
    assert_ordered(replayed + got)

    # resuming after the last one seen gives exactly what came after it
    await ws.subscribe("again", ["customer.created"], replayed[1]["seq"])
    again = await ws.events_until("again", created(live[-1]))
    assert [e["entityId"] for e in again] == [backlog[2], *live]


async def test_unknown_patterns_and_bad_positions_are_error_messages(stack, api, connect):
    admin = stack.keys["admin"]
    ws = await connect()
    await ws.init(admin)
    await ws.subscribe("typo", ["customer.*", "tickets.*"])
    message = await ws.message("typo")
    assert message["type"] == "error", message
    [error] = message["payload"]
    assert error["message"] == "No event matches 'tickets.*'; see eventTypes"
    assert error["extensions"]["code"] == "VALIDATION"
    assert error["extensions"]["field"] == "names"

    await ws.subscribe("negative", None, -1)
    message = await ws.message("negative")
    assert message["type"] == "error", message
    assert message["payload"][0]["message"] == "after must be a position (>= 0)"

    await ws.subscribe("type", None, "soon")  # not an Int: a GraphQL variable error
    message = await ws.message("type")
    assert message["type"] == "error", message

    # the connection lives on; an error message ends its operation (no complete follows)
    head = await api.head(admin)
    await ws.subscribe("fine", ["customer.created"], head)
    pk = await api.customer(admin)
    assert (await ws.event("fine"))["entityId"] == pk
    assert not ws.inbox["typo"] and not ws.inbox["negative"] and not ws.loose


async def test_a_variable_of_the_wrong_type_is_explained(stack, connect):
    ws = await connect()
    await ws.init(stack.keys["admin"])
    await ws.subscribe("type", None, "soon")
    message = await ws.message("type")
    assert message["type"] == "error", message
    assert "Int cannot represent non-integer value" in message["payload"][0]["message"]


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (None, "kehu_000000000000_notarealkeynotarealkey"),
        ("kehu_000000000000_notarealkeynotarealkey", None),
        (None, None),
        (None, ""),
    ],
    ids=["bad-payload-key", "bad-header-key", "missing", "empty"],
)
async def test_bad_or_missing_keys_close_with_4403(stack, connect, header, payload):
    ws = await connect(header_key=header)
    init: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        init["payload"] = {"Authorization": f"Bearer {payload}" if payload else ""}
    await ws.send(init)
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_subscribing_before_connection_init_closes_with_4401(stack, connect):
    ws = await connect(header_key=stack.keys["admin"])
    await ws.subscribe("early")
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_a_burst_of_50_writes_arrives_complete_and_in_order(stack, api, connect):
    admin = stack.keys["admin"]
    ws = await connect()
    await ws.init(admin)
    await ws.subscribe("burst", ["customer.created"])
    await go_live(ws, "burst", api, admin)

    ids = await asyncio.gather(*[api.customer(admin, "Burst") for _ in range(50)])
    end = await api.customer(admin, "End")
    got = await ws.events_until("burst", created(end), timeout=30)
    assert_ordered(got)
    assert sorted(e["entityId"] for e in got[:-1]) == sorted(ids)
    assert len(got) == 51


async def test_two_processes_events_written_elsewhere_arrive(stack, api, connect):
    """PostgreSQL: NOTIFY from process B wakes process A at once (A polls once a minute);
    SQLite: A finds B's events by polling, within a couple of seconds."""
    admin = stack.keys["admin"]
    b = stack.wait_ready(stack.serve())
    api_b = Api(b)
    try:
        ws = await connect()  # on process A
        await ws.init(admin)
        await ws.subscribe("far", ["customer.created"], await api.head(admin))
        limit = 1.5 if stack.backend == "postgres" else 3.0
        latencies = []
        for _ in range(3):
            started = time.monotonic()  # the write's request, its commit, the event on A
            pk = await api_b.customer(admin, "FromB")
            event = await ws.event("far", limit)
            latencies.append(time.monotonic() - started)
            assert event["entityId"] == pk
        assert max(latencies) < limit, latencies

        # writes of both processes, interleaved: commit order on A
        order = [
            await api_b.customer(admin, "B1"),
            await api.customer(admin, "A1"),
            await api_b.customer(admin, "B2"),
        ]
        got = await ws.events_until("far", created(order[-1]), timeout=limit + 2)
        assert [e["entityId"] for e in got] == order
        assert_ordered(got)

        # and the other way round: a subscriber on B sees A's writes
        ws_b = await connect(b)
        await ws_b.init(admin)
        await ws_b.subscribe("near", ["customer.created"], await api.head(admin))
        pk = await api.customer(admin, "FromA")
        assert (await ws_b.event("near", limit))["entityId"] == pk
    finally:
        await api_b.close()
        stack.stop(b)
