"""ASGI entry point for uvicorn: ``uvicorn --factory kehu.api.asgi:create``."""

from litestar import Litestar

from kehu.api.app import create_app


def create() -> Litestar:
    """The app configured from kehu.toml and KEHU_* variables."""
    return create_app()
