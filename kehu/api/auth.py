"""API-key authentication for GraphQL and REST routes."""

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from kehu.core.errors import Unauthenticated
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
    """Litestar dependency ``actor`` for plugin REST routes: 401 without a valid key."""
    try:
        return await authenticate(bearer_token(request))
    except Unauthenticated as exc:
        raise NotAuthorizedException(exc.message) from exc


def require_scope(scope: str) -> Any:
    """A Litestar guard: 401 without a valid key, 403 when the role lacks ``scope``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        try:
            actor = await authenticate(bearer_token(connection))
        except Unauthenticated as exc:
            raise NotAuthorizedException(exc.message) from exc
        if not actor.can(scope):
            raise PermissionDeniedException(f"Role {actor.role!r} lacks permission {scope!r}")

    return guard
