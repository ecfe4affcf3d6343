"""API-key authentication for GraphQL and REST routes."""

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from kehu.core.permissions import Actor
from kehu.core.services.users import authenticate


def bearer_from(header: Any) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value."""
    if not isinstance(header, str):
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return bearer_from(connection.headers.get("authorization", ""))


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    """Litestar dependency ``actor`` for plugin REST routes: without a valid key the route
    answers 401 ``{code: UNAUTHENTICATED, message}`` with ``WWW-Authenticate: Bearer``."""
    return await authenticate(bearer_token(request))


def require_scope(scope: str) -> Any:
    """A Litestar guard: 401 without a valid key, 403 when the role lacks ``scope``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        (await authenticate(bearer_token(connection))).require(scope)

    return guard
