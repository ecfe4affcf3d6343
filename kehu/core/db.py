"""Engines, table binding, write transactions and query counting."""

import contextlib
import contextvars
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
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
