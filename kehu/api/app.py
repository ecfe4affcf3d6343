"""The Litestar application: GraphQL, health, meta and plugin routes."""

import json
from typing import Any

from cross_web import HTTPException
from litestar import Litestar, Request, get
from litestar.datastructures import Headers
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Response
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.ides import get_graphql_ide_html
from strawberry.litestar import make_graphql_controller
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET

from kehu.api.auth import bearer_from, provide_actor
from kehu.api.ide import asset_router, offline
from kehu.api.idempotency import idempotency_middleware
from kehu.api.rate_limit import rate_limit_middleware
from kehu.core.errors import KehuError, Unauthenticated, ValidationFailed
from kehu.core.graphql.base import KehuContext
from kehu.core.graphql.guards import code_of_message
from kehu.core.runtime import Kehu
from kehu.core.services.users import authenticate
from kehu.core.settings import Settings
from kehu.core.tables import Team
from kehu.version import __version__

_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "VALIDATION": 400,
    "UNAVAILABLE": 501,
}


def kehu_error_response(_: Request[Any, Any, Any], exc: KehuError) -> Response[dict[str, Any]]:
    """Typed service errors raised in REST routes: 4xx with ``{code, message, field}``."""
    body: dict[str, Any] = {"code": exc.code, "message": exc.message, "field": exc.field}
    if isinstance(exc, ValidationFailed):
        body["errors"] = [
            {"field": e.field, "message": e.message, "code": e.code} for e in exc.errors
        ]
    headers = {"WWW-Authenticate": 'Bearer realm="kehu"'} if exc.code == "UNAUTHENTICATED" else None
    return Response(body, status_code=_STATUS.get(exc.code, 400), headers=headers)


MAX_JSON_DEPTH = 64


def _depth(value: Any, limit: int) -> bool:
    """Whether ``value`` nests no deeper than ``limit`` (iterative: no recursion limit)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return True


def decode_body(data: str | bytes) -> object:
    """A GraphQL request body: UTF-8 JSON nested at most ``MAX_JSON_DEPTH`` levels."""
    too_deep = HTTPException(
        400, f"The request body nests JSON deeper than {MAX_JSON_DEPTH} levels"
    )
    try:
        value = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
    except UnicodeDecodeError:
        raise HTTPException(400, "The request body is not valid UTF-8") from None
    except RecursionError:
        raise too_deep from None
    except json.JSONDecodeError:
        raise HTTPException(400, "Unable to parse request body as JSON") from None
    if not _depth(value, MAX_JSON_DEPTH):
        raise too_deep
    return value


def create_app(
    settings: Settings | None = None, kehu: Kehu | None = None, *, lifespan: bool = True
) -> Litestar:
    """Build the app for ``kehu`` (or a runtime made from ``settings``). With
    ``lifespan=False`` the caller opens and closes the database pool itself."""
    kehu = kehu or Kehu.from_settings(settings)
    composed = kehu.graphql()

    async def context_getter(headers: Headers) -> KehuContext:
        """The request's context, for HTTP and WebSocket requests alike."""
        context = KehuContext(
            kehu=kehu, node_types=composed.node_types, loader_fns=composed.loaders
        )
        try:
            context.user = await authenticate(bearer_from(headers.get("authorization")))
        except Unauthenticated as exc:
            context.auth_error = exc.message
        kehu.call("kehu_graphql_context", context=context)
        return context

    base = make_graphql_controller(
        composed.schema,
        path="/graphql",
        context_getter=context_getter,
        graphql_ide="graphiql",
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        keep_alive=True,
        keep_alive_interval=15,
    )

    class GraphQL(base):  # type: ignore[valid-type,misc]
        graphql_ide_html = offline(get_graphql_ide_html("graphiql"))

        async def process_result(self, request: Any, result: Any) -> Any:
            """Errors raised before the schema ran (a syntax error found by the view) get
            their code here; the others already have one (``ErrorCodes``)."""
            response = await super().process_result(request, result)
            for error in response.get("errors") or ():
                extensions = error.setdefault("extensions", {})
                extensions.setdefault("code", code_of_message(error.get("message", "")))
            return response

        def decode_json(self, data: str | bytes) -> object:
            """The body as JSON; invalid UTF-8 and over-deep nesting are 400, not 500."""
            return decode_body(data)

        async def on_ws_connect(self, context: KehuContext) -> Any:
            """Subscriptions authenticate with the upgrade request's Authorization header
            or, from browsers, ``connection_init`` ``{"Authorization": "Bearer ..."}``."""
            if context.user is None:
                params = context.connection_params or {}
                token = params.get("Authorization") or params.get("authorization")
                try:
                    context.user = await authenticate(bearer_from(token))
                except Unauthenticated as exc:
                    raise ConnectionRejectionError(
                        {"code": "UNAUTHENTICATED", "message": exc.message}
                    ) from exc
            return UNSET

    @get("/health", tags=["meta"], security=[{}])
    async def health() -> Response[dict[str, str]]:
        """Liveness and database reachability."""
        try:
            await Team.raw("SELECT 1")
        except Exception as exc:  # reported, not raised
            return Response(
                {"status": "error", "database": str(exc)}, status_code=HTTP_503_SERVICE_UNAVAILABLE
            )
        return Response({"status": "ok", "database": kehu.engine.engine_type})

    @get("/meta", tags=["meta"], security=[{}])
    async def meta() -> dict[str, Any]:
        """Version and enabled plugins."""
        return {
            "name": "kehu",
            "version": __version__,
            "plugins": [
                {"name": p.info.name, "version": p.info.version, "depends": list(p.info.depends)}
                for p in kehu.plugins
            ],
        }

    middleware: list[Any] = [idempotency_middleware]
    if kehu.settings.rate_limit_per_minute:  # outermost: a refused request costs nothing else
        middleware.insert(0, rate_limit_middleware(kehu.settings.rate_limit_per_minute))

    app = Litestar(
        route_handlers=[
            GraphQL,
            health,
            meta,
            asset_router(),
            *kehu.collect("kehu_route_handlers"),
        ],
        dependencies={"actor": Provide(provide_actor)},
        on_startup=[kehu.start, kehu.events.start_background] if lifespan else [],
        on_shutdown=[kehu.events.stop_background, kehu.stop] if lifespan else [],
        middleware=middleware,
        exception_handlers={KehuError: kehu_error_response},
        openapi_config=OpenAPIConfig(
            title="Kehu",
            version=__version__,
            path="/schema",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="An API key (kehu apikey create): Authorization: Bearer <key>",
                    )
                }
            ),
            security=[{"apiKey": []}],
        ),
        debug=kehu.settings.debug,
    )
    app.state.kehu = kehu
    app.state.schema = composed.schema
    return app
