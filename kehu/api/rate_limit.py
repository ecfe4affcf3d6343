"""Rate limiting per API key (per client address without one), shared by every worker.

Each request counts in its client's bucket for the current minute in the database
(``kehu.core.services.rate_limits``); over ``rate_limit_per_minute`` the answer is 429 with
``Retry-After`` and ``RATE_LIMITED``. Every answer carries ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset``. ``/health`` is never counted.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from litestar.datastructures import Headers

from kehu.api.auth import bearer_from
from kehu.core.services import idempotency, rate_limits

# ASGI messages are built as plain dicts here; Litestar's TypedDicts would only add casts
Scope: TypeAlias = Any
Receive: TypeAlias = Any
Send: TypeAlias = Any
Message: TypeAlias = Any
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

EXEMPT = ("/health",)


def client_of(scope: Scope) -> str:
    """``key:<digest>`` for a bearer token, else ``ip:<address>``."""
    token = bearer_from(Headers.from_scope(scope).get("authorization"))
    if token:
        return "key:" + idempotency.digest(token)[:40]
    host = (scope.get("client") or ("unknown", 0))[0]
    return f"ip:{host}"


def rate_limit_middleware(per_minute: int) -> Callable[[ASGIApp], ASGIApp]:
    """A Litestar middleware factory allowing ``per_minute`` requests per client."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] in EXEMPT:
                await app(scope, receive, send)
                return
            hits, reset = await rate_limits.hit(client_of(scope))
            limit_headers = [
                (b"ratelimit-limit", str(per_minute).encode()),
                (b"ratelimit-remaining", str(max(per_minute - hits, 0)).encode()),
                (b"ratelimit-reset", str(reset).encode()),
            ]
            if hits > per_minute:
                body = {
                    "data": None,
                    "errors": [
                        {
                            "message": f"More than {per_minute} requests in a minute; "
                            f"retry in {reset} s",
                            "extensions": {"code": "RATE_LIMITED", "retryAfter": reset},
                        }
                    ],
                }
                await send(
                    {
                        "type": "http.response.start",
                        "status": 429,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"retry-after", str(reset).encode()),
                            *limit_headers,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": json.dumps(body).encode()})
                return

            async def with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *limit_headers]}
                await send(message)

            await app(scope, receive, with_headers)

        return middleware

    return factory


__all__ = ["client_of", "rate_limit_middleware"]
