"""The ``kehu`` command. Plugins add sub-commands through ``kehu_cli_commands``."""

import asyncio
import codecs
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kehu.core.console import CliState, console, err_console, fail, pass_state
from kehu.core.console import format_time as _dt
from kehu.core.errors import KehuError
from kehu.core.permissions import Actor, system_actor
from kehu.core.runtime import Kehu
from kehu.core.settings import default_toml


class KehuGroup(click.Group):
    """Adds plugin commands and turns Kehu errors into one line and a non-zero exit."""

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        if "_plugin_commands" not in ctx.meta:
            state = ctx.ensure_object(CliState)
            try:
                commands = state.kehu.collect("kehu_cli_commands")
            except KehuError as exc:
                fail(exc.message, 2)
            ctx.meta["_plugin_commands"] = {c.name: c for c in commands}
        return ctx.meta["_plugin_commands"]

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            extra = list(self._plugin_commands(ctx))
        except SystemExit:
            extra = []
        return sorted(set(super().list_commands(ctx)) | set(extra))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            command = self._plugin_commands(ctx).get(name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KehuError as exc:
            fail(exc.message, 2 if exc.code == "PLUGIN" else 1)
        except Exception as exc:
            if _missing_table(exc) and ctx.invoked_subcommand != "migrate":
                fail("the database has no Kehu tables (or misses some); run kehu migrate")
            raise


def _missing_table(exc: BaseException) -> bool:
    """A database error saying a table does not exist (SQLite or PostgreSQL)."""
    text = str(exc)
    return "no such table" in text or (
        type(exc).__name__ == "UndefinedTableError"
        or ("relation" in text and "does not exist" in text)
    )


@click.group(cls=KehuGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--plugins", envvar="KEHU_PLUGINS", help="Comma-separated plugins to enable.")
@click.option(
    "--database-url",
    envvar="KEHU_DATABASE_URL",
    help="sqlite:///kehu.db or postgresql://user@host/db",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The configuration file (default: kehu.toml here; also KEHU_CONFIG).",
)
@click.version_option(package_name="kehu")
@click.pass_context
def main(
    ctx: click.Context, plugins: str | None, database_url: str | None, config: Path | None
) -> None:
    """Kehu (客户): a plugin-based, headless CRM framework.

    Configuration: kehu.toml in the working directory (or the file --config / KEHU_CONFIG
    names), overridden by KEHU_* variables. A relative SQLite path in that file is relative
    to the file.
    """
    if config is not None:  # the environment carries it to uvicorn's worker processes too
        os.environ["KEHU_CONFIG"] = str(config.resolve())
    ctx.obj = CliState(plugins, database_url)


def _actor(kehu: Kehu, username: str | None) -> Awaitable[Actor]:
    from kehu.core.services import users

    async def resolve() -> Actor:
        if username is None:
            return system_actor()
        return users.actor_for(await users.user_by_name(username))

    return resolve()


as_option = click.option(
    "--as",
    "as_user",
    metavar="USER",
    help="Act as this user (their permissions and visibility); default: system.",
)

# -- setup -------------------------------------------------------------------------------


@main.command()
def init() -> None:
    """Create kehu.toml in the working directory (or the --config file) if missing."""
    path = Path(os.environ.get("KEHU_CONFIG") or "kehu.toml")
    if path.exists():
        console.print(f"{path} exists; leaving it unchanged")
        return
    path.write_text(default_toml(), encoding="utf-8")
    console.print(f"Created {path}")


@main.command()
@click.option("-v", "--verbose", is_flag=True, help="Show Piccolo's migration output.")
@pass_state
def migrate(state: CliState, verbose: bool) -> None:
    """Create or upgrade the database schema of every enabled plugin."""
    state.run(lambda kehu: kehu.migrate(verbose=verbose))
    console.print(f"Database migrated ({', '.join(state.kehu.names)})")


@main.command()
@click.option(
    "--print-key/--no-print-key",
    default=True,
    help="Print a new admin API key when the demo admin is created.",
)
@pass_state
def demo(state: CliState, print_key: bool) -> None:
    """Load the deterministic demo data set (idempotent)."""
    from kehu.core.demo import load_demo
    from kehu.core.services import users
    from kehu.core.tables import User

    async def work(kehu: Kehu) -> tuple[bool, str | None]:
        fresh = not await User.exists().where(User.username == "admin")
        await load_demo(kehu, system_actor())
        if fresh and print_key:
            return fresh, (await users.create_api_key(system_actor(), "admin", "demo"))[1]
        return fresh, None

    fresh, key = state.run(work)
    console.print(
        "Demo data loaded." if fresh else "Demo data present (plugins' demo data topped up)."
    )
    if key:
        console.print("Admin API key (shown once, keep it):")
        console.print(f"  [bold]{key}[/bold]", highlight=False)
    elif not fresh:
        console.print("New key: kehu apikey create --user admin")


@main.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default 8000).")
@click.option("--workers", default=1, show_default=True, help="Uvicorn worker processes.")
@click.option("--reload", is_flag=True, help="Reload on code changes (development).")
@pass_state
def serve(state: CliState, host: str | None, port: int | None, workers: int, reload: bool) -> None:
    """Serve the API (GraphQL at /graphql, GraphiQL in a browser)."""
    import uvicorn

    state.require_project()
    settings = state.kehu.settings
    host, port = host or settings.host, port or settings.port
    if workers > 1 and settings.is_sqlite:
        err_console.print(
            "[yellow]Several workers on SQLite serialise writes; use "
            "PostgreSQL to scale out.[/yellow]"
        )
    for key, value in state.overrides.items():
        os.environ[f"KEHU_{key.upper()}"] = value
    console.print(f"GraphiQL: http://{host}:{port}/graphql  (Authorization: Bearer <key>)")
    uvicorn.run(
        "kehu.api.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_level="info",
    )


@main.command()
@click.option("--once", is_flag=True, help="Run the due jobs, deliver due events, exit.")
@click.option("--poll", default=10.0, show_default=True, help="Seconds between job checks.")
@pass_state
def worker(state: CliState, once: bool, poll: float) -> None:
    """Run periodic jobs once per due time and deliver events (webhooks, plugin handlers,
    mail) that no server delivered; safe to run several workers on several machines."""
    from kehu.core import jobs

    async def work(kehu: Kehu) -> None:
        if once:
            for result in await jobs.run_due(kehu):
                console.print(f"{result.name}: {result.status} {result.summary}")
            await kehu.events.drain()
            return
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):  # finish the job at hand, then exit
            loop.add_signal_handler(signum, stop.set)
        console.print(
            f"Worker {jobs.worker_id()}: {len(kehu.jobs())} job(s), event delivery; Ctrl-C stops"
        )
        await jobs.worker(kehu, stop, poll)
        console.print("Worker stopped")

    try:
        state.run(work)
    except KeyboardInterrupt:
        console.print("Worker stopped")


# -- introspection -----------------------------------------------------------------------


@main.command()
@pass_state
def plugins(state: CliState) -> None:
    """List enabled plugins, versions, dependencies and the hooks each implements."""
    table = Table("plugin", "version", "depends", "hooks", "description")
    for column in table.columns:  # a narrow terminal wraps names, never cuts them
        column.overflow = "fold"
    for p in state.kehu.plugins:
        table.add_row(
            p.info.name,
            p.info.version,
            ", ".join(p.info.depends) or "-",
            "\n".join(p.hooks),
            p.info.description,
        )
    console.print(table)


@main.command()
@pass_state
def schema(state: CliState) -> None:
    """Print the GraphQL SDL of the enabled plugins (needs no database)."""
    click.echo(state.kehu.graphql().schema.as_str())


# -- users, teams, keys --------------------------------------------------------------------


@main.group()
def user() -> None:
    """Manage users."""


@user.command("add")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["admin", "manager", "sales", "support", "finance", "viewer"]),
    required=True,
)
@click.option("--team", default=None, help="Team name (created with `kehu team add`).")
@click.option("--email", default="")
@click.option("--display-name", default="")
@click.option(
    "--locale",
    type=click.Choice(["zh", "en"]),
    default=None,
    help="E-mail language (default: mail_default_locale).",
)
@pass_state
def user_add(
    state: CliState,
    username: str,
    role: str,
    team: str | None,
    email: str,
    display_name: str,
    locale: str | None,
) -> None:
    """Create a user."""
    from kehu.core.services import users

    async def work(kehu: Kehu) -> dict:
        team_id = (await users.team_by_name(team))["id"] if team else None
        return await users.create_user(
            system_actor(),
            {
                "username": username,
                "role": role,
                "team": team_id,
                "email": email,
                "display_name": display_name or username,
                "locale": locale or "",
            },
        )

    row = state.run(work)
    console.print(f"Created user {row['username']} (id {row['id']}, role {row['role']})")


@user.command("update")
@click.argument("username")
@click.option(
    "--role", type=click.Choice(["admin", "manager", "sales", "support", "finance", "viewer"])
)
@click.option("--team", default=None, help="Team name ('' for none).")
@click.option("--active/--inactive", default=None, help="Deactivate a user who left.")
@click.option("--email", default=None)
@click.option(
    "--locale",
    type=click.Choice(["zh", "en", ""]),
    default=None,
    help="E-mail language ('' for the default).",
)
@pass_state
def user_update(
    state: CliState,
    username: str,
    role: str | None,
    team: str | None,
    active: bool | None,
    email: str | None,
    locale: str | None,
) -> None:
    """Change a user's role, team or active flag."""
    from kehu.core.services import users

    async def work(kehu: Kehu) -> dict:
        row = await users.user_by_name(username)
        data: dict[str, Any] = {}
        if role:
            data["role"] = role
        if team is not None:
            data["team"] = (await users.team_by_name(team))["id"] if team else None
        if active is not None:
            data["active"] = active
        for name, value in (("email", email), ("locale", locale)):
            if value is not None:
                data[name] = value
        return await users.update_user(system_actor(), row["id"], data)

    row = state.run(work)
    console.print(f"Updated {row['username']}: role {row['role']}, active {row['active']}")


@user.command("list")
@pass_state
def user_list(state: CliState) -> None:
    """List users."""
    from kehu.core.services import users

    async def work(kehu: Kehu) -> tuple[list, dict]:
        teams = {t["id"]: t["name"] for t in await users.list_teams(system_actor())}
        return await users.list_users(system_actor()), teams

    rows, teams = state.run(work)
    table = Table("id", "username", "name", "role", "team", "active")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["username"],
            r["display_name"],
            r["role"],
            teams.get(r["team"], "-"),
            "yes" if r["active"] else "no",
        )
    console.print(table)


@main.group()
def team() -> None:
    """Manage teams."""


@team.command("add")
@click.argument("name")
@click.option("--description", default="")
@pass_state
def team_add(state: CliState, name: str, description: str) -> None:
    """Create a team."""
    from kehu.core.services import users

    row = state.run(lambda kehu: users.create_team(system_actor(), name, description))
    console.print(f"Created team {row['name']} (id {row['id']})")


@team.command("list")
@pass_state
def team_list(state: CliState) -> None:
    """List teams."""
    from kehu.core.services import users

    rows = state.run(lambda kehu: users.list_teams(system_actor()))
    table = Table("id", "name", "description")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["description"])
    console.print(table)


@main.group()
def apikey() -> None:
    """Manage API keys (stored hashed; shown once)."""


@apikey.command("create")
@click.option("--user", "username", required=True, help="The user the key acts as.")
@click.option("--name", default="", help="A label, e.g. the integration using it.")
@click.option("--expires-days", type=int, default=None, help="Expire after N days.")
@pass_state
def apikey_create(state: CliState, username: str, name: str, expires_days: int | None) -> None:
    """Create an API key and print it once."""
    from kehu.core.services import users

    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    row, key = state.run(lambda kehu: users.create_api_key(system_actor(), username, name, expires))
    err_console.print(f"API key {row['prefix']} for {username} (shown once):")
    click.echo(key)


@apikey.command("revoke")
@click.argument("prefix")
@pass_state
def apikey_revoke(state: CliState, prefix: str) -> None:
    """Revoke a key by its prefix (or the whole key)."""
    from kehu.core.services import users

    row = state.run(lambda kehu: users.revoke_api_key(system_actor(), prefix))
    console.print(f"Revoked API key {row['prefix']}")


@apikey.command("list")
@click.option("--user", "username", default=None)
@pass_state
def apikey_list(state: CliState, username: str | None) -> None:
    """List keys: prefix, user, created, last used, revoked."""
    from kehu.core.services import users

    rows = state.run(lambda kehu: users.list_api_keys(system_actor(), username))
    table = Table("prefix", "user", "name", "created", "last used", "expires", "revoked")
    for r in rows:
        table.add_row(
            r["prefix"],
            r["username"],
            r["name"],
            _dt(r["created_at"]),
            _dt(r["last_used_at"]),
            _dt(r["expires_at"]),
            _dt(r["revoked_at"]),
        )
    console.print(table)


# -- jobs --------------------------------------------------------------------------------


@main.group()
def jobs() -> None:
    """Inspect and run periodic jobs."""


@jobs.command("list")
@pass_state
def jobs_list(state: CliState) -> None:
    """Jobs, schedules, last and next runs."""
    from kehu.core import jobs as job_runner

    rows = state.run(job_runner.job_table)
    table = Table("job", "schedule", "last run", "status", "next run", "description")
    for r in rows:
        table.add_row(
            r["name"],
            r["schedule"],
            _dt(r["last_started_at"]),
            r["last_status"],
            _dt(r["next_run"]),
            r["description"],
        )
    console.print(table)


@jobs.command("run")
@click.argument("name")
@pass_state
def jobs_run(state: CliState, name: str) -> None:
    """Run one job now (respects the lease held by a running worker)."""
    from kehu.core import jobs as job_runner

    available = state.kehu.jobs()
    if name not in available:
        fail(f"Unknown job {name!r}; jobs: {', '.join(available) or 'none'}")
    result = state.run(lambda kehu: job_runner.run_job(kehu, available[name]))
    console.print(f"{result.name}: {result.status} {result.summary}")
    if result.status != "ok":
        raise SystemExit(1)


# -- import / export -----------------------------------------------------------------------


def _count_lines(file: Path, encoding: str) -> int:
    """Lines of ``file``, decoding it as ``encoding`` block by block: a file that is not in
    that encoding is refused before anything is imported, in constant memory."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 0
    with file.open("rb") as raw:
        for block in iter(lambda: raw.read(1 << 20), b""):
            lines += decoder.decode(block).count("\n")
        decoder.decode(b"", final=True)
    return lines


def _without_bom(stream: Iterable[str]) -> Iterator[str]:
    """The file's lines, without the byte-order mark Excel writes at the start."""
    lines = iter(stream)
    first = next(lines, None)
    if first is not None:
        yield first.removeprefix("\ufeff")
        yield from lines


def _parse_map(values: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for item in values:
        header, sep, target = item.partition("=")
        if not sep or not header or not target:
            fail(f"--map expects 'CSV header=field', got {item!r}", 2)
        mapping[header] = target.strip()
    return mapping


def _run_import(
    state: CliState,
    kind: str,
    file: Path,
    mapping: tuple[str, ...],
    dry_run: bool,
    chunk_size: int | None,
    as_user: str | None,
    errors_file: Path | None,
    encoding: str,
    **options: Any,
) -> None:
    from kehu.core.services import importexport

    importer = {
        "customers": importexport.import_customers,
        "contacts": importexport.import_contacts,
    }[kind]
    try:
        total = max(_count_lines(file, encoding) - 1, 0)
    except (UnicodeDecodeError, LookupError) as exc:
        fail(
            f"{file} is not readable as {encoding} ({exc}); save it as UTF-8 or pass "
            "--encoding gb18030 (Excel in Chinese locales)"
        )

    async def work(kehu: Kehu) -> Any:
        actor = await _actor(kehu, as_user)
        with Progress(
            TextColumn(f"Importing {kind}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task(kind, total=total)
            with file.open(encoding=encoding, newline="") as stream:
                return await importer(
                    actor,
                    _without_bom(stream),
                    mapping=_parse_map(mapping),
                    dry_run=dry_run,
                    chunk_size=chunk_size or kehu.settings.import_chunk_size,
                    progress=lambda n: progress.advance(task, n),
                    **options,
                )

    report = state.run(work)
    verb = "would be" if dry_run else "were"
    console.print(
        f"{report.total} rows: {report.created} {verb} created, {report.updated} "
        f"updated, {report.skipped} skipped, {len(report.errors)} error(s), "
        f"{report.rejected} valid row(s) in rejected chunks"
    )
    if report.errors:
        table = Table("line", "field", "code", "message", title="Rejected rows")
        for e in report.errors[:50]:
            table.add_row(str(e.line), e.field or "-", e.code, e.message)
        console.print(table)
        if len(report.errors) > 50:
            console.print(f"... {len(report.errors) - 50} more (use --errors FILE)")
    if errors_file:
        from kehu.core.spreadsheet import SafeWriter

        with errors_file.open("w", newline="", encoding="utf-8") as out:
            writer = SafeWriter(out)
            writer.writerow(["line", "field", "code", "message"])
            for e in report.errors + report.skipped_rows:
                writer.writerow([e.line, e.field or "", e.code, e.message])
    if not report.ok:
        raise SystemExit(1)


import_options = [
    click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.option(
        "--map",
        "mapping",
        multiple=True,
        metavar="HEADER=FIELD",
        help="Map a CSV header to a field (repeatable); known headers map automatically.",
    ),
    click.option("--dry-run", is_flag=True, help="Validate and report; write nothing."),
    click.option(
        "--chunk-size",
        type=int,
        default=None,
        help="Rows per all-or-nothing chunk (default: import_chunk_size).",
    ),
    click.option(
        "--errors",
        "errors_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write every rejected/skipped row with its reason to this CSV.",
    ),
    click.option(
        "--encoding",
        default="utf-8-sig",
        show_default=True,
        help="File encoding, e.g. gb18030 for CSV saved by Excel in Chinese locales.",
    ),
    as_option,
]


def _with(options: list[Callable]) -> Callable:
    def apply(func: Callable) -> Callable:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


@main.group("import")
def import_group() -> None:
    """Import customers or contacts from CSV."""


@import_group.command("customers")
@_with(import_options)
@click.option(
    "--on-duplicate",
    type=click.Choice(["skip", "update", "error"]),
    default="skip",
    show_default=True,
    help="What to do with rows matching an existing customer.",
)
@pass_state
def import_customers(state: CliState, **options: Any) -> None:
    """Import customers (dedup by name, e-mail, phone and tax id)."""
    _run_import(state, "customers", **options)


@import_group.command("contacts")
@_with(import_options)
@pass_state
def import_contacts(state: CliState, **options: Any) -> None:
    """Import contacts; each row names its customer (customer or customer_id column)."""
    _run_import(state, "contacts", **options)


@main.group("export")
def export_group() -> None:
    """Export customers or contacts as CSV or JSON lines."""


def _run_export(
    state: CliState,
    kind: str,
    fmt: str,
    output: Path | None,
    as_user: str | None,
    excel: bool,
    **options: Any,
) -> None:
    from kehu.core.services import exports

    exporter = {
        "customers": exports.export_customers,
        "contacts": exports.export_contacts,
    }[kind]

    async def work(kehu: Kehu) -> int:
        actor = await _actor(kehu, as_user)
        rows = exporter(actor, **options)
        if output is None:
            return await exports.write_export(rows, sys.stdout, fmt, bom=excel)
        with output.open("w", newline="", encoding="utf-8") as out:
            return await exports.write_export(rows, out, fmt, bom=excel)

    count = state.run(work)
    err_console.print(f"Exported {count} {kind}")


format_option = click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
excel_option = click.option(
    "--excel",
    is_flag=True,
    help="Start the CSV with a UTF-8 byte order mark, so Excel in any locale reads it as UTF-8.",
)
output_option = click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)


@export_group.command("customers")
@format_option
@output_option
@excel_option
@click.option("--include-archived", is_flag=True)
@as_option
@pass_state
def export_customers(
    state: CliState,
    fmt: str,
    output: Path | None,
    excel: bool,
    include_archived: bool,
    as_user: str | None,
) -> None:
    """Export customers (owner/team by name, tags joined by ';')."""
    _run_export(state, "customers", fmt, output, as_user, excel, include_archived=include_archived)


@export_group.command("contacts")
@format_option
@output_option
@excel_option
@as_option
@pass_state
def export_contacts(
    state: CliState, fmt: str, output: Path | None, excel: bool, as_user: str | None
) -> None:
    """Export contacts with their customer."""
    _run_export(state, "contacts", fmt, output, as_user, excel)


__all__ = ["CliState", "main", "pass_state"]
