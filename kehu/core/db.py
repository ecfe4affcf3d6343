"""Engines, table binding, write transactions and query counting."""

import asyncio
import contextlib
import contextvars
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeGuard

import aiosqlite
from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, convert_datetime_in, dict_factory
from piccolo.table import Table

from kehu.core.settings import Settings


@dataclass
class QueryLog:
    """SQL statements run while a ``count_queries()`` block is active."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


_query_log: contextvars.ContextVar[QueryLog | None] = contextvars.ContextVar(
    "kehu_query_log", default=None
)


@contextlib.contextmanager
def count_queries() -> Iterator[QueryLog]:
    """Record every SQL statement run in this context (tests assert bounded query counts)."""
    log = QueryLog()
    token = _query_log.set(log)
    try:
        yield log
    finally:
        _query_log.reset(token)


def _record(querystring: object) -> None:
    log = _query_log.get()
    if log is not None:
        log.statements.append(str(querystring))


def _fold(value: str | None) -> str | None:
    """Unicode case folding for SQLite (its LIKE folds ASCII only)."""
    return value.casefold() if isinstance(value, str) else value


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def text_search(text: str, columns: list[Column], phone: Column | None = None) -> WhereRaw:
    """Case-insensitive (Unicode) substring match over ``columns``; wildcards in ``text`` are
    literal. Phone columns (E.164) match on the digits of ``text`` (3 or more)."""
    sqlite = is_sqlite(current_engine())
    text = text.strip()
    parts, args = [], []
    for column in columns:
        name = f'"{column._meta.table._meta.tablename}"."{column._meta.db_column_name}"'
        if sqlite:
            parts.append(f"kehu_fold({name}) LIKE {{}} ESCAPE '\\'")
            args.append(_like_pattern(text.casefold()))
        else:
            parts.append(f"{name} ILIKE {{}} ESCAPE '\\'")
            args.append(_like_pattern(text))
    digits = "".join(ch for ch in text if ch.isdigit())
    if phone is not None and len(digits) >= 3:
        name = f'"{phone._meta.table._meta.tablename}"."{phone._meta.db_column_name}"'
        parts.append(f"{name} LIKE {{}}")
        args.append(f"%{digits}%")
    return WhereRaw("(" + " OR ".join(parts) + ")", *args)


class KehuSQLiteEngine(SQLiteEngine):
    """SQLite with a busy timeout and a small pool of autocommit connections for statements
    outside transactions (Piccolo would open a connection, and a thread, per statement).
    WAL is switched on by ``prepare_database``; transactions still get their own connection."""

    POOL_SIZE = 4

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: list[aiosqlite.Connection] = []
        self._all: list[aiosqlite.Connection] = []
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run_querystring(self, querystring, in_pool: bool = False):
        _record(querystring)
        return await super().run_querystring(querystring, in_pool=in_pool)

    async def _run_in_new_connection(self, query, args=None, query_type="generic", table=None):
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (e.g. another CLI command)
            self._idle, self._all, self._loop = [], [], loop
            self._slots = asyncio.Semaphore(self.POOL_SIZE)
        assert self._slots is not None
        async with self._slots:
            connection = self._idle.pop() if self._idle else await self._connect()
            try:
                async with connection.execute(query, args or []) as cursor:
                    return await cursor.fetchall()
            finally:
                self._idle.append(connection)

    async def _connect(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # a forgotten close() must not keep the interpreter alive at exit
        connection._thread.daemon = True
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]  # typeshed: type | None
        await connection.execute("PRAGMA foreign_keys = 1")
        await connection.create_function("kehu_fold", 1, _fold, deterministic=True)
        self._all.append(connection)
        return connection

    async def get_connection(self) -> aiosqlite.Connection:
        """Connections for transactions: Piccolo's, plus Kehu's SQL functions."""
        connection = await super().get_connection()
        await connection.create_function("kehu_fold", 1, _fold, deterministic=True)
        return connection

    async def close_pool(self) -> None:
        """Close the pooled connections (their threads keep the process alive otherwise)."""
        connections, self._all, self._idle, self._loop = self._all, [], [], None
        for connection in connections:
            await connection.close()


class KehuPostgresEngine(PostgresEngine):
    """PostgreSQL that does not connect at construction (``kehu schema`` and ``--help`` need
    no database); the pool opens in ``Kehu.start()``."""

    async def check_version(self) -> None:
        return None

    async def prep_database(self) -> None:
        return None

    async def run_querystring(self, querystring, in_pool: bool = True):
        _record(querystring)
        return await super().run_querystring(querystring, in_pool=in_pool)


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if settings.is_sqlite:
        return KehuSQLiteEngine(
            path=str(settings.sqlite_path), timeout=settings.sqlite_busy_timeout
        )
    if url.startswith(("postgres://", "postgresql://")):
        return KehuPostgresEngine(config={"dsn": url})
    raise ValueError(f"Unsupported KEHU_DATABASE_URL {url!r} (sqlite:/// or postgresql://)")


def is_sqlite(engine: Engine) -> TypeGuard[SQLiteEngine]:
    """Whether ``engine`` is SQLite (for the few SQL spellings that differ)."""
    return engine.engine_type == "sqlite"


def prepare_database(engine: Engine) -> None:
    """Switch a SQLite file to WAL (persistent per file); nothing to do on PostgreSQL."""
    if is_sqlite(engine):
        with sqlite3.connect(engine.path, timeout=30) as conn:
            conn.execute("PRAGMA journal_mode=WAL")


MIGRATION_LOCK = 7_163_000  # pg_advisory_lock key held while migrating


@contextlib.asynccontextmanager
async def migration_lock(engine: Engine) -> AsyncIterator[None]:
    """Serialise ``kehu migrate`` across processes: a session advisory lock on PostgreSQL
    (every container may migrate on start-up), an exclusive file lock beside a SQLite file.
    The second migrator waits, then finds nothing left to do."""
    if is_sqlite(engine):
        import fcntl

        with open(f"{engine.path}.migrate-lock", "w") as handle:
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    import asyncpg

    assert isinstance(engine, PostgresEngine)
    conn = await asyncpg.connect(**engine.config)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        yield
    finally:
        await conn.close()  # ends the session, which releases the lock


_engine: Engine | None = None


def bind_tables(engine: Engine, tables: Iterable[type[Table]]) -> None:
    """Point every table class at ``engine`` and make it the current engine."""
    global _engine
    _engine = engine
    for table in tables:
        table._meta.db = engine


def current_engine() -> Engine:
    """The engine of the active runtime."""
    if _engine is None:
        raise RuntimeError("No database engine bound: create the Kehu runtime first")
    return _engine


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """One write transaction: ``BEGIN IMMEDIATE`` on SQLite, a pooled transaction on
    PostgreSQL. Nested calls join the outer transaction."""
    engine = current_engine()
    if is_sqlite(engine):
        tx = engine.transaction(transaction_type=TransactionType.immediate)
    else:
        tx = engine.transaction()
    async with tx:
        yield


def in_transaction() -> bool:
    """Whether the current task is inside a transaction."""
    return current_engine().current_transaction.get() is not None


_PLAIN = (str, int, float, bool, type(None))


def _adapt(value: object, sqlite: bool) -> object:
    if type(value) in _PLAIN:  # most cells: nothing to do
        return value
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if sqlite and isinstance(value, datetime):
        return convert_datetime_in(value)
    if sqlite and isinstance(value, date):
        return value.isoformat()
    return value


def _default(column: Column) -> object:
    value = column.get_default_value()
    python = getattr(value, "python", None)  # piccolo Default objects (e.g. TimestamptzNow)
    return python() if callable(python) else value


async def bulk_insert(
    table: type[Table], rows: Sequence[Mapping[str, Any]], returning: tuple[str, ...] = ("id",)
) -> list[dict[str, Any]]:
    """Insert many rows with multi-row ``INSERT ... RETURNING`` on the current transaction's
    connection, skipping the ORM's per-row object overhead (imports, bulk jobs). Missing
    columns take their defaults. Must run inside ``write_transaction()``."""
    if not rows:
        return []
    engine = current_engine()
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError("bulk_insert() needs a transaction")
    sqlite = is_sqlite(engine)
    columns = [c for c in table._meta.columns if not c._meta.primary_key]
    names = [c._meta.db_column_name for c in columns]
    keys = [c._meta.name for c in columns]
    defaults = [_adapt(_default(c), sqlite) for c in columns]  # adapted once, not per row
    per_batch = max(1, 30000 // len(columns))
    quoted = ", ".join(f'"{n}"' for n in names)
    out: list[dict[str, object]] = []
    for start in range(0, len(rows), per_batch):
        batch = rows[start : start + per_batch]
        params = [
            _adapt(row[key], sqlite) if key in row else default
            for row in batch
            for key, default in zip(keys, defaults, strict=True)
        ]
        if sqlite:
            groups = ", ".join("(" + ", ".join("?" * len(columns)) + ")" for _ in batch)
        else:
            width = len(columns)
            groups = ", ".join(
                "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ")"
                for i in range(len(batch))
            )
        sql = (
            f'INSERT INTO "{table._meta.tablename}" ({quoted}) VALUES {groups} '
            f"RETURNING {', '.join(returning)}"
        )
        _record(sql)
        if sqlite:
            cursor = await transaction.connection.execute(sql, params)
            out += [dict(r) for r in await cursor.fetchall()]
        else:
            out += [dict(r) for r in await transaction.connection.fetch(sql, *params)]
    return out


class StatisticsRefresher:
    """Refresh PostgreSQL planner statistics while a bulk load grows a table (each time the
    written row count doubles): without them the planner keeps the "empty table" plan and the
    dedup lookups of a large import turn into sequential scans."""

    def __init__(self, table: type[Table], first: int = 2000) -> None:
        self.table = table
        self.next = first

    async def after(self, written: int) -> None:
        if written >= self.next and not is_sqlite(current_engine()):
            await current_engine().run_ddl(f'ANALYZE "{self.table._meta.tablename}"')
            self.next = written * 2


async def claim_rows(
    table: type[Table],
    where: str,
    args: Sequence[Any],
    values: Mapping[str, Any],
    *,
    returning: str = "*",
    order_by: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Take the rows matching ``where`` (raw SQL, ``{}`` placeholders for ``args``) by setting
    ``values`` in one ``UPDATE ... RETURNING``: the claim is atomic on both databases, and on
    PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``, so concurrent claimers
    never wait for each other nor take the same row. Leases, queues and due jobs use it."""
    name = table._meta.tablename
    inner = f'SELECT id FROM "{name}" WHERE {where}'
    if order_by:
        inner += f" ORDER BY {order_by}"
    if limit is not None:
        inner += f" LIMIT {int(limit)}"
    if not is_sqlite(current_engine()):
        inner += " FOR UPDATE SKIP LOCKED"
    sets = ", ".join(f'"{column}" = {{}}' for column in values)
    sql = f'UPDATE "{name}" SET {sets} WHERE id IN ({inner}) RETURNING {returning}'
    return await table.raw(sql, *values.values(), *args)


def placeholders(values: Sequence[Any]) -> str:
    """``{}, {}, {}`` for a raw ``IN (...)`` list (at least one ``NULL`` so it stays valid)."""
    return ", ".join("{}" for _ in values) or "NULL"
