"""What a CLI command needs: the click context object, ``pass_state``, consoles and ``fail``.

Plugin commands get a ``CliState`` (``@click.pass_obj`` or ``@pass_state``): ``state.kehu`` is
the runtime and ``state.run(async_fn)`` opens the database, awaits ``async_fn(kehu)`` and closes
it. ``fail(message)`` ends the command with one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from kehu.core.settings import Settings

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


class CliState:
    """The click context object: the runtime (created on first use) and an async runner."""

    def __init__(self, plugins: str | None = None, database_url: str | None = None) -> None:
        self.overrides: dict[str, Any] = {}
        if plugins is not None:
            self.overrides["plugins"] = plugins
        if database_url is not None:
            self.overrides["database_url"] = database_url

    def require_project(self) -> None:
        """Fail with one line, before anything is created, when there is no configuration:
        no ``KEHU_CONFIG`` / ``--config``, no ``kehu.toml`` here and no database URL given."""
        config = os.environ.get("KEHU_CONFIG")
        if config:
            if not Path(config).is_file():
                fail(f"KEHU_CONFIG names {config}, which does not exist; run kehu init there")
        elif not (
            Path("kehu.toml").is_file()
            or "database_url" in self.overrides
            or os.environ.get("KEHU_DATABASE_URL")
        ):
            fail("no kehu.toml here; run kehu init or set KEHU_CONFIG")

    @cached_property
    def kehu(self) -> Kehu:
        from kehu.core.runtime import Kehu  # the composition root: the CLI builds the runtime

        return Kehu(Settings(**self.overrides))

    def run(self, work: Callable[[Kehu], Awaitable[T]]) -> T:
        """Open the database, await ``work(kehu)``, close the database."""
        self.require_project()
        kehu = self.kehu

        async def main() -> T:
            await kehu.start()
            try:
                return await work(kehu)
            finally:
                await kehu.stop()

        return asyncio.run(main())


pass_state = click.make_pass_decorator(CliState)
pass_state.__doc__ = "``@pass_state`` hands a ``kehu`` command its ``CliState`` (the runtime)."


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code`` (not 0)."""
    err_console.print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


def format_time(value: datetime | None) -> str:
    """A timestamp for a table cell: ``2026-12-04 14:43``, ``-`` for none."""
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


__all__ = ["CliState", "console", "err_console", "fail", "format_time", "pass_state"]
