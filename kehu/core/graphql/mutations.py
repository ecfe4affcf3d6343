"""Mutations without boilerplate: a typed function returning its result, and one decorator.

    @mutation(description="Award points.")
    async def award_points(self, info: strawberry.Info, input: AwardInput) -> LoyaltyEntry:
        return LoyaltyEntry.from_row(await services.award(info.context.actor, ...))

gives ``awardPoints(input: AwardInput!): LoyaltyEntryPayload!`` with ``LoyaltyEntryPayload {
loyaltyEntry: LoyaltyEntry, errors: [UserError!]! }``: the payload is derived from the result
type (shared by every mutation returning it), ``ValidationFailed`` becomes ``errors``, and
authentication, permission, not-found and conflict errors stay GraphQL errors with a code.

No ``from __future__ import annotations`` here: the payload types are built at import time.
"""

import functools
import inspect
import re
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from kehu.core.errors import PluginError, ValidationFailed
from kehu.core.graphql.base import UserError

_payloads: dict[str, tuple[str, Any, type]] = {}


def _type_name(result: Any) -> str:
    """The GraphQL name of a result annotation (a type, a lazy reference, ``X | None``)."""
    origin = typing.get_origin(result)
    if origin is typing.Annotated:
        inner = typing.get_args(result)[0]
        if isinstance(inner, typing.ForwardRef):  # Annotated["Customer", strawberry.lazy(...)]
            return inner.__forward_arg__
        return inner if isinstance(inner, str) else _type_name(inner)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(result) if a is not type(None)]
        if len(args) == 1:
            return _type_name(args[0])
    definition = getattr(result, "__strawberry_definition__", None)
    if definition is not None:
        return definition.name
    name = getattr(result, "__name__", None)
    if isinstance(name, str):
        return {"ID": "ID", "int": "Int", "str": "String", "bool": "Boolean"}.get(name, name)
    raise PluginError(f"Cannot derive a payload name from the result type {result!r}")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def payload_type(name: str, field: str, result: Any) -> type:
    """The payload type ``name`` with ``field: result | None`` and ``errors`` (made once)."""
    known = _payloads.get(name)
    if known is not None:
        if known[0] != field:
            raise PluginError(
                f"Payload {name} is declared with field {known[0]!r} and with {field!r}"
            )
        return known[2]
    optional = typing.Optional[result]  # noqa: UP045 - a lazy reference has no ``|``
    annotations = {field: optional, "errors": list[UserError]}
    cls = strawberry.type(type(name, (), {"__annotations__": annotations}), name=name)
    _payloads[name] = (field, result, cls)
    return cls


def mutation(
    fn: Callable[..., Awaitable[Any]] | None = None,
    *,
    description: str | None = None,
    payload: str | None = None,
    field: str | None = None,
) -> Any:
    """A Strawberry mutation from ``async def name(self, info, input) -> Result``: the payload
    ``<Result>Payload { <result>: Result, errors }`` is derived (``payload=``/``field=`` name
    another, e.g. to share one), ``ValidationFailed`` becomes its ``errors``."""

    def decorate(fn: Callable[..., Awaitable[Any]]) -> Any:
        result = inspect.signature(fn).return_annotation
        if result is inspect.Signature.empty:
            raise PluginError(f"Mutation {fn.__qualname__} needs a return annotation")
        type_name = _type_name(result)
        payload_cls = payload_type(
            payload or f"{type_name}Payload", field or _snake(type_name), result
        )
        result_field = field or _snake(type_name)

        @functools.wraps(fn)
        async def resolver(*args: Any, **kwargs: Any) -> Any:
            try:
                value = await fn(*args, **kwargs)
            except ValidationFailed as exc:
                errors = [
                    UserError(field=e.field, message=e.message, code=e.code) for e in exc.errors
                ]
                return payload_cls(**{result_field: None, "errors": errors})
            return payload_cls(**{result_field: value, "errors": []})

        signature = inspect.signature(fn)
        resolver.__signature__ = signature.replace(  # type: ignore[attr-defined]
            return_annotation=payload_cls
        )
        resolver.__annotations__ = {**fn.__annotations__, "return": payload_cls}
        del resolver.__wrapped__  # Strawberry must read the payload, not the result
        return strawberry.mutation(resolver=resolver, description=description)

    return decorate(fn) if fn is not None else decorate


__all__ = ["mutation", "payload_type"]
