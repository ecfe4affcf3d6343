"""GraphQL types built from table rows without a hand-written ``from_row``.

    @strawberry.type
    class LoyaltyEntry(RowType, Node):
        __table__ = LoyaltyLedger            # optional: checked when the schema is built
        pk: strawberry.Private[int]          # row["id"]
        customer_pk: strawberry.Private[int] # row["customer"]
        database_id: int                     # row["id"]
        kind: LoyaltyEntryKind               # a gql_enum: the enum member of row["kind"]
        points: int                          # row["points"]
        amount: Money | None                 # Money(row["amount_minor"], row["currency"])

``LoyaltyEntry.from_row(row)`` fills every field by these conventions (``id`` of a ``Node`` is
its global id; JSON scalars are parsed); fields with a default may be missing from the row.

No ``from __future__ import annotations`` here: field types are read at runtime.
"""

import dataclasses
import datetime
import decimal
import enum
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from piccolo import columns as pc
from piccolo.table import Table
from strawberry.scalars import JSON

from kehu.core.errors import PluginError
from kehu.core.graphql.base import Money, Node, encode_id
from kehu.core.money import Money as MoneyValue
from kehu.core.services.common import load_json

Getter = Callable[[Mapping[str, Any]], Any]
_INTEGERS: tuple[type, ...] = (pc.Integer, pc.BigInt, pc.SmallInt, pc.Serial, pc.ForeignKey)
_TEXTS: tuple[type, ...] = (pc.Varchar, pc.Text, pc.Email)
_UNSUPPORTED: tuple[type, ...] = (pc.Array, pc.Bytea, pc.Interval)
_COLUMNS: dict[Any, tuple[type, ...]] = {
    int: _INTEGERS,
    str: (*_TEXTS, pc.UUID),
    bool: (pc.Boolean,),
    float: (pc.Real, pc.DoublePrecision, pc.Numeric),
    decimal.Decimal: (pc.Numeric, *_INTEGERS, *_TEXTS),
    datetime.datetime: (pc.Timestamptz, pc.Timestamp),
    datetime.date: (pc.Date,),
    datetime.time: (pc.Time,),
    JSON: (pc.JSON, pc.JSONB, *_TEXTS),
}
_plans: dict[type, list[tuple[str, Getter, bool]]] = {}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``X | None`` / ``Private[X]``, and whether ``None`` is allowed."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return annotation, optional
            annotation = args[0]
        else:
            return annotation, optional


def _getter(cls: type, name: str, annotation: Any) -> tuple[Getter, str | None]:
    """How to read field ``name`` from a row, and the column it needs (``None``: none)."""
    kind, _ = _unwrap(annotation)
    if name == "id" and issubclass(cls, Node):
        type_name = cls.__strawberry_definition__.name  # type: ignore[attr-defined]
        return (lambda row: encode_id(type_name, row["id"])), "id"
    if name in ("pk", "database_id"):
        return (lambda row: row["id"]), "id"
    if name.endswith("_pk"):
        column = name[: -len("_pk")]
        return (lambda row: row[column]), column
    if kind is Money:
        minor = f"{name}_minor"

        def money(row: Mapping[str, Any]) -> Any:
            value = row[minor]
            currency = row.get(f"{name}_currency") or row["currency"]
            return None if value is None else Money.of(MoneyValue(int(value), currency))

        return money, minor
    if isinstance(kind, type) and issubclass(kind, enum.Enum):

        def member(row: Mapping[str, Any]) -> Any:
            value = row[name]
            return None if value in (None, "") else kind(value)

        return member, name
    if kind is JSON:
        return (lambda row: load_json(row[name])), name
    return (lambda row: row[name]), name


class RowType:
    """Base of Strawberry types derived from a table row (see the module docstring)."""

    __table__: ClassVar[type[Table] | None] = None

    @classmethod
    def _plan(cls) -> list[tuple[str, Getter, bool]]:
        plan = _plans.get(cls)
        if plan is None:
            hints = typing.get_type_hints(cls, include_extras=True)
            plan = []
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]
                if not f.init:
                    continue
                getter, _ = _getter(cls, f.name, hints.get(f.name, Any))
                has_default = (
                    f.default is not dataclasses.MISSING
                    or f.default_factory is not dataclasses.MISSING
                )
                plan.append((f.name, getter, has_default))
            _plans[cls] = plan
        return plan

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Any:
        values = {}
        for name, getter, has_default in cls._plan():
            try:
                values[name] = getter(row)
            except KeyError:
                if not has_default:
                    raise
        return cls(**values)

    @classmethod
    def check_table(cls, plugin: str) -> None:
        """Start-up check: every field's column exists in ``__table__`` and holds a value the
        field can take (``Money`` needs an integer ``<name>_minor``; no arrays or bytes)."""
        table = cls.__table__
        if table is None:
            return
        columns = {c._meta.name: c for c in table._meta.columns}
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if not f.init:
                continue
            annotation = hints.get(f.name, Any)
            _, name = _getter(cls, f.name, annotation)
            if name is None or (name == "currency" and name not in columns):
                continue
            column = columns.get(name)
            if column is None:
                if f.default is dataclasses.MISSING:
                    raise PluginError(
                        f"Plugin {plugin!r}: {cls.__name__}.{f.name} needs column {name!r}, "
                        f"which {table._meta.tablename} does not have"
                    )
                continue
            kind = _unwrap(annotation)[0]
            if f.name in ("pk", "database_id", "id") or f.name.endswith("_pk"):
                kind = int
            accepted = _accepts(kind)
            unsupported = isinstance(column, _UNSUPPORTED)
            if unsupported or (accepted is not None and not isinstance(column, accepted)):
                raise PluginError(
                    f"Plugin {plugin!r}: {cls.__name__}.{f.name} cannot be derived from "
                    f"{table._meta.tablename}.{name}, a {type(column).__name__} column "
                    + (
                        "(RowType does not read that column type)"
                        if unsupported or accepted is None
                        else f"(supported: {', '.join(c.__name__ for c in accepted)})"
                    )
                    + "; write from_row by hand"
                )


def _accepts(kind: Any) -> tuple[type, ...] | None:
    """The Piccolo column types a field of type ``kind`` can be read from (``None``: any)."""
    if kind is Money:
        return _INTEGERS  # minor units: exact, never floating point
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _TEXTS
    return _COLUMNS.get(kind)


__all__ = ["RowType"]
