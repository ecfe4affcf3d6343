"""``Idempotency-Key`` on GraphQL mutations: ASGI middleware around ``POST /graphql``.

A mutation sent with the header by an authenticated client is run once per (API key, key)
for 24 hours: a retry gets the stored response again, with ``Idempotent-Replayed: true``.
The same key with another request is ``IDEMPOTENCY_KEY_REUSED`` (422); a retry while the
first request still runs is ``IDEMPOTENCY_KEY_IN_USE`` (409). Queries, requests without
the header and requests without a valid API key pass through untouched. The response is
stored unless the request failed unexpectedly (HTTP 5xx or ``INTERNAL_SERVER_ERROR``), so
such a request may be retried with the same key.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from graphql import OperationDefinitionNode, OperationType, parse
from litestar.datastructures import Headers

from kehu.api.auth import bearer_from
from kehu.core.errors import Unauthenticated
from kehu.core.services import idempotency
from kehu.core.services.users import authenticate

# ASGI messages are built as plain dicts here; Litestar's TypedDicts would only add casts
Scope: TypeAlias = Any
Receive: TypeAlias = Any
Send: TypeAlias = Any
Message: TypeAlias = Any
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

HEADER = "idempotency-key"


def _is_mutation(request: Any) -> bool:
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        return False
    try:
        document = parse(request["query"], max_tokens=20000)
    except Exception:  # the GraphQL endpoint reports the syntax error itself
        return False
    name = request.get("operationName")
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name and definition.name.value == name)
        ):
            return definition.operation == OperationType.MUTATION
    return False


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _error(code: str, message: str) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    """Litestar middleware (``middleware=[idempotency_middleware]``)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/graphql":
            await app(scope, receive, send)
            return
        headers = Headers.from_scope(scope)
        key = headers.get(HEADER)
        if key is None:
            await app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)

        async def replay_receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        if not 1 <= len(key) <= idempotency.MAX_KEY_LENGTH or not key.isprintable():
            await _send_json(
                send,
                400,
                _error("BAD_USER_INPUT", "Idempotency-Key must be 1 to 255 printable characters"),
            )
            return
        token = bearer_from(headers.get("authorization"))
        try:
            request = json.loads(body)
            await authenticate(token)
        except (ValueError, RecursionError, Unauthenticated):
            request = None  # the endpoint answers with the error itself
        if token is None or not _is_mutation(request):
            await app(scope, replay_receive, send)
            return

        outcome = await idempotency.begin(
            idempotency.digest(token), key, idempotency.fingerprint(request)
        )
        if isinstance(outcome, idempotency.Replay):
            await send(
                {
                    "type": "http.response.start",
                    "status": outcome.status_code,
                    "headers": [
                        (b"content-type", outcome.content_type.encode()),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": outcome.body.encode()})
            return
        if isinstance(outcome, idempotency.Reused):
            await _send_json(
                send,
                422,
                _error(
                    "IDEMPOTENCY_KEY_REUSED",
                    "This Idempotency-Key was used for a different request; use a new key",
                ),
            )
            return
        if isinstance(outcome, idempotency.InFlight):
            await _send_json(
                send,
                409,
                _error(
                    "IDEMPOTENCY_KEY_IN_USE",
                    "A request with this Idempotency-Key is still running; retry later",
                ),
            )
            return

        status, content_type, parts = 500, "", []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = {k.lower(): v for k, v in message.get("headers", [])}
                content_type = raw.get(b"content-type", b"").decode("latin-1")
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        try:
            await app(scope, replay_receive, capture)
        except BaseException:
            await idempotency.release(outcome.record_id)
            raise
        text = b"".join(parts).decode("utf-8", "replace")
        if status >= 500 or '"INTERNAL_SERVER_ERROR"' in text:
            await idempotency.release(outcome.record_id)
        else:
            await idempotency.finish(outcome.record_id, status, content_type, text)

    return middleware


__all__ = ["HEADER", "idempotency_middleware"]
