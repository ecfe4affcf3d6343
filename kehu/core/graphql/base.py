"""GraphQL building blocks shared by core and plugins: Node and global IDs, Money, payload
errors, connections, the request context and DataLoaders."""

import base64
import inspect
from collections.abc import Awaitable, Callable
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

import msgspec
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext

from kehu.core.errors import KehuError, Unauthenticated, ValidationFailed
from kehu.core.money import Money as MoneyValue
from kehu.core.pagination import Page
from kehu.core.permissions import Actor

T = TypeVar("T")
N = TypeVar("N")
E = TypeVar("E", bound=Enum)

# -- global IDs ---------------------------------------------------------------------------


def encode_id(type_name: str, pk: int) -> strawberry.ID:
    """``Customer:7`` in URL-safe base64, without padding."""
    raw = f"{type_name}:{pk}".encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).decode().rstrip("="))


def decode_id(global_id: str, expected: str | None = None, field: str = "id") -> tuple[str, int]:
    """``(type_name, pk)``; ``ValidationFailed`` for garbage or the wrong type."""
    try:
        padded = str(global_id) + "=" * (-len(str(global_id)) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        value = int(pk)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(f"Invalid id {global_id!r}", field=field) from None
    if expected is not None and type_name != expected:
        raise ValidationFailed(f"Id {global_id!r} is not a {expected} id", field=field)
    return type_name, value


@overload
def pk_of(global_id: str, expected: str, field: str = "id") -> int: ...
@overload
def pk_of(global_id: None, expected: str, field: str = "id") -> None: ...
@overload
def pk_of(global_id: str | None, expected: str, field: str = "id") -> int | None: ...
def pk_of(global_id: str | None, expected: str, field: str = "id") -> int | None:
    """The database id of a global id of type ``expected`` (``ValidationFailed`` naming
    ``field`` otherwise); ``None`` stays ``None``."""
    return None if global_id is None else decode_id(global_id, expected, field)[1]


@strawberry.interface(description="An object with a global ID (Relay).")
class Node:
    id: strawberry.ID

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        raise NotImplementedError


EXTENSIBLE: dict[str, type] = {}


def extensible(name: str) -> Callable[[type[T]], type[T]]:
    """Mark a Strawberry type as the base of the composed type ``name``: at startup the final
    ``name`` type is built from it plus the plugins' mixins (``kehu_graphql_type_extensions``)
    and set as attribute ``name`` of the base's module (reference it with ``strawberry.lazy``).
    """

    def register(cls: type[T]) -> type[T]:
        EXTENSIBLE[name] = cls
        return cls

    return register


# -- scalars and small types ---------------------------------------------------------------


@strawberry.type(description="An exact amount of money.")
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, value: MoneyValue | None) -> "Money | None":
        return None if value is None else cls(amount=value.amount, currency=value.currency)


@strawberry.input(description="An exact amount: decimal string/number in major units.")
class MoneyInput:
    amount: Decimal
    currency: str

    def to_value(self) -> MoneyValue:
        return MoneyValue.from_decimal(self.amount, self.currency)


@strawberry.type(description="A validation or business-rule failure of a mutation.")
class UserError:
    field: str | None
    message: str
    code: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def gql_enum(py_enum: type[E], name: str | None = None, description: str = "") -> type[E]:
    """A GraphQL enum with UPPER_CASE names for a Python enum of lower-case values. Its
    members have the Python enum's values; type checkers see it as that enum::

        if TYPE_CHECKING:
            StatusEnum = Status
        else:
            StatusEnum = gql_enum(Status)
    """
    mirrored = Enum(name or py_enum.__name__, {m.name.upper(): m.value for m in py_enum})  # type: ignore[misc]
    return cast(type[E], strawberry.enum(mirrored, description=description or None))


def enum_value(gql: Any, value: Any) -> Any:
    """The GraphQL enum member for a stored value, ``None`` for empty."""
    return None if value in (None, "") else gql(value)


# -- connections -------------------------------------------------------------------------

_connections: dict[str, tuple[type, type]] = {}

if TYPE_CHECKING:

    class Edge(Generic[N]):
        cursor: str
        node: N

    class Connection(Generic[N]):
        """What ``connection(name, N)`` builds, as type checkers see it::

        if TYPE_CHECKING:
            RewardConnection = Connection[Reward]
        else:
            RewardConnection = connection("Reward", Reward)
        """

        edges: list[Edge[N]]
        nodes: list[N]
        page_info: PageInfo

        async def total_count(self) -> int: ...


def connection(node_name: str, node_ref: Any) -> type:
    """The ``<Node>Connection`` type (with ``<Node>Edge``) for a node type reference."""
    if node_name in _connections:
        return _connections[node_name][1]
    edge = strawberry.type(
        type(f"{node_name}Edge", (), {"__annotations__": {"cursor": str, "node": node_ref}}),
        name=f"{node_name}Edge",
    )

    async def total_count(self: Any) -> int:
        return await self.count()

    conn = strawberry.type(
        type(
            f"{node_name}Connection",
            (),
            {
                "__annotations__": {
                    "edges": list[edge],  # type: ignore[valid-type]
                    "nodes": list[node_ref],
                    "page_info": PageInfo,
                    "count": strawberry.Private[Callable[[], Awaitable[int]]],  # type: ignore[misc]
                },
                "total_count": strawberry.field(
                    total_count, description="Total matches; computed only when asked for."
                ),
            },
        ),
        name=f"{node_name}Connection",
    )
    _connections[node_name] = (edge, conn)
    return conn


def make_connection(
    node_name: str,
    page: Page,
    to_node: Callable[[dict[str, Any]], Any],
    count: Callable[[], Awaitable[int]],
) -> Any:
    """The ``<Node>Connection`` of a keyset ``page``: rows become nodes with ``to_node``;
    ``count`` runs only when ``totalCount`` is asked for."""
    edge, conn = _connections[node_name]
    nodes = [to_node(row) for row in page.rows]
    edges = [edge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)]
    info = PageInfo(
        has_next_page=page.has_next,
        has_previous_page=False,
        start_cursor=page.cursors[0] if page.cursors else None,
        end_cursor=page.cursors[-1] if page.cursors else None,
    )
    return conn(edges=edges, nodes=nodes, page_info=info, count=count)


# -- context and loaders -----------------------------------------------------------------


class KehuContext(BaseContext, kw_only=True):
    """Per-request GraphQL context: ``info.context.actor`` raises ``UNAUTHENTICATED``."""

    kehu: Any = None
    user: Actor | None = None
    auth_error: str | None = None
    node_types: dict[str, Any] = msgspec.field(default_factory=dict)
    loader_fns: dict[str, Callable[..., Any]] = msgspec.field(default_factory=dict)
    loaders: dict[str, DataLoader] = msgspec.field(default_factory=dict)
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    connection_params: dict[str, Any] | None = None  # graphql-transport-ws connection_init

    @property
    def actor(self) -> Actor:
        if self.user is None:
            raise Unauthenticated(self.auth_error or "Authentication required")
        return self.user

    def loader(self, name: str) -> DataLoader:
        """The request's DataLoader ``name`` (registered via ``kehu_graphql_dataloaders``)."""
        if name not in self.loaders:
            fn = self.loader_fns[name]

            async def load(keys: list[Any], fn: Callable[..., Any] = fn) -> list[Any]:
                return await fn(self, keys)

            self.loaders[name] = DataLoader(load_fn=load)
        return self.loaders[name]


# -- mutations ---------------------------------------------------------------------------


async def payload(cls: type[T], field: str, work: Callable[[], Awaitable[Any]]) -> T:
    """Run a mutation body: the result goes to ``field``; ``ValidationFailed`` becomes
    ``errors``; authentication, permission, not-found and conflict errors propagate as
    GraphQL errors with ``extensions.code``."""
    try:
        result = work()
        if inspect.isawaitable(result):
            result = await result
    except ValidationFailed as exc:
        errors = [UserError(field=e.field, message=e.message, code=e.code) for e in exc.errors]
        return cls(**{field: None, "errors": errors})
    return cls(**{field: result, "errors": []})


def should_mask(error: Any) -> bool:
    """Mask unexpected exceptions; keep Kehu's typed errors and GraphQL validation errors."""
    from graphql import GraphQLError

    original = getattr(error, "original_error", None)
    return original is not None and not isinstance(original, KehuError | GraphQLError)


def given(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The input fields that were given (not ``UNSET``), enum members as their values."""
    out = {}
    for name in fields:
        value = getattr(obj, name)
        if value is not strawberry.UNSET:
            out[name] = value.value if isinstance(value, Enum) else value
    return out


__all__ = [
    "EXTENSIBLE",
    "KehuContext",
    "Money",
    "MoneyInput",
    "Node",
    "PageInfo",
    "UserError",
    "connection",
    "decode_id",
    "encode_id",
    "enum_value",
    "extensible",
    "given",
    "gql_enum",
    "make_connection",
    "payload",
    "pk_of",
    "should_mask",
]
