"""GraphiQL without the internet: Strawberry's page with its unpkg.com assets served from
the package (``kehu/api/graphiql/``) under ``/graphiql/``."""

import re
from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

ASSETS = Path(__file__).parent / "graphiql"
PREFIX = "/graphiql"
_LOCAL = {  # the file name in the unpkg URL -> the shipped file
    "react.production.min.js": "react.production.min.js",
    "react-dom.production.min.js": "react-dom.production.min.js",
    "js.cookie.min.js": "js.cookie.min.js",
    "graphiql.min.css": "graphiql.min.css",
    "graphiql.min.js": "graphiql.min.js",
    "style.css": "plugin-explorer.css",
    "index.umd.js": "plugin-explorer.umd.js",
}
_UNPKG = re.compile(r'"https://unpkg\.com/[^"]*/([^"/]+)"')


def offline(html: str) -> str:
    """``html`` with every unpkg.com asset pointing at Kehu's own copy (same bytes, so the
    page's integrity hashes still hold). An asset Kehu does not ship is a startup error."""

    def local(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in _LOCAL:
            raise RuntimeError(f"GraphiQL asset {name} is not shipped in {ASSETS}")
        return f'"{PREFIX}/{_LOCAL[name]}"'

    return _UNPKG.sub(local, html)


def asset_router() -> Router:
    """The route serving the shipped assets (cached for a day; they never change)."""
    return create_static_files_router(
        path=PREFIX,
        directories=[ASSETS],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400, public=True),
    )


__all__ = ["ASSETS", "PREFIX", "asset_router", "offline"]
