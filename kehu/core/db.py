"""Engines, table binding, write transactions and query counting."""

import contextlib
import contextvars
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from piccolo.columns import Column
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, convert_datetime_in
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


class KehuSQLiteEngine(SQLiteEngine):
    """SQLite with a busy timeout; WAL is switched on by ``prepare_database``."""

    async def run_querystring(self, querystring, in_pool: bool = False):
        _record(querystring)
        return await super().run_querystring(querystring, in_pool=in_pool)


class KehuPostgresEngine(PostgresEngine):
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


def is_sqlite(engine: Engine) -> bool:
    return engine.engine_type == "sqlite"


def prepare_database(engine: Engine) -> None:
    """Switch a SQLite file to WAL (persistent per file); nothing to do on PostgreSQL."""
    if is_sqlite(engine):
        with sqlite3.connect(engine.path, timeout=30) as conn:
            conn.execute("PRAGMA journal_mode=WAL")


_engine: Engine | None = None


def bind_tables(engine: Engine, tables: Iterable[type[Table]]) -> None:
    """Point every table class at ``engine`` and make it the current engine."""
    global _engine
    _engine = engine
    for table in tables:
        table._meta.db = engine


def current_engine() -> Engine:
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
    return current_engine().current_transaction.get() is not None


def _adapt(value: object, sqlite: bool) -> object:
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
    table: type[Table], rows: list[dict[str, object]], returning: tuple[str, ...] = ("id",)
) -> list[dict[str, object]]:
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
    defaults = {c._meta.name: _default(c) for c in columns}
    per_batch = max(1, 30000 // len(columns))
    quoted = ", ".join(f'"{n}"' for n in names)
    out: list[dict[str, object]] = []
    for start in range(0, len(rows), per_batch):
        batch = rows[start : start + per_batch]
        params = [
            _adapt(row.get(c._meta.name, defaults[c._meta.name]), sqlite)
            for row in batch
            for c in columns
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
