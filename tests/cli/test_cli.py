"""The ``kehu`` command: setup, demo data, users/teams/keys, introspection, jobs and errors.

Synchronous tests: every command runs its own event loop (``asyncio.run``)."""

import re

import click
import pytest

from kehu.cli import main
from kehu.core.demo import COMPANIES, TEAMS, USERS
from kehu.core.errors import Unauthenticated
from kehu.core.services import users
from kehu.core.settings import DEFAULT_TOML

KEY = re.compile(r"kehu_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")


def table_row(output: str, first: str) -> list[str]:
    """The cells of the rich table row whose first cell is ``first``."""
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)]
        cells = [c for c in cells if c != ""]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{output}")


# -- setup -----------------------------------------------------------------------------------


def test_init_creates_kehu_toml(cli, tmp_path):
    result = cli.ok("init")
    assert "Created kehu.toml" in result.stdout
    path = tmp_path / "kehu.toml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(DEFAULT_TOML)
    assert re.search(r'^secret_key = "[A-Za-z0-9_-]{40,}"$', text, re.MULTILINE)
    path.write_text(DEFAULT_TOML + "\n# mine\n", encoding="utf-8")
    result = cli.ok("init")
    assert "exists" in result.stdout
    assert path.read_text(encoding="utf-8").endswith("# mine\n")


def test_migrate_creates_and_upgrades_schema(fresh_url, cli_at):
    cli = cli_at(fresh_url)
    result = cli.ok("migrate")
    assert result.stdout.strip() == "Database migrated (core)"
    for table in ("core_customer", "core_user", "core_audit_log", "core_job_state"):
        assert cli.count(table) == 0
    migrations = cli.count("migration")
    assert migrations >= 1
    # idempotent
    cli.ok("migrate", "-v")
    assert cli.count("migration") == migrations


def test_settings_come_from_kehu_toml(cli, tmp_path):
    (tmp_path / "kehu.toml").write_text(
        f'database_url = "{cli.url}"\nplugins = ["core"]\n', encoding="utf-8"
    )
    result = cli.ok("team", "add", "FromToml", KEHU_DATABASE_URL=None, KEHU_PLUGINS=None)
    assert "Created team FromToml" in result.stdout
    assert cli.count("core_team") == 1


# -- demo ------------------------------------------------------------------------------------


def test_demo_is_idempotent_and_prints_the_admin_key_once(cli):
    first = cli.ok("demo")
    assert "Demo data loaded" in first.stdout
    keys = KEY.findall(first.stdout)
    assert len(keys) == 1
    counts = {
        table: cli.count(table)
        for table in ("core_customer", "core_user", "core_team", "core_contact", "core_activity")
    }
    assert counts["core_customer"] == len(COMPANIES)
    assert counts["core_user"] == len(USERS)
    assert counts["core_team"] == len(TEAMS)
    assert counts["core_contact"] > 0 and counts["core_activity"] > 0

    second = cli.ok("demo")
    assert "Demo data present" in second.stdout
    assert not KEY.findall(second.stdout)
    assert {table: cli.count(table) for table in counts} == counts
    assert cli.count("core_api_key") == 1

    actor = cli.run(lambda kehu: users.authenticate(keys[0]))
    assert (actor.username, actor.role) == ("admin", "admin")


def test_demo_without_key(cli):
    result = cli.ok("demo", "--no-print-key")
    assert not KEY.findall(result.stdout)
    assert cli.count("core_api_key") == 0


# -- users, teams, API keys --------------------------------------------------------------------


def test_user_and_team_commands(cli):
    assert "Created team North" in cli.ok("team", "add", "North", "--description", "华北").stdout
    cli.ok("team", "add", "South")
    teams = cli.ok("team", "list").stdout
    assert table_row(teams, "1")[1:] == ["North", "华北"]
    assert table_row(teams, "2")[1] == "South"

    result = cli.ok(
        "user", "add", "alice", "--role", "sales", "--team", "North",
        "--email", "Alice@Example.COM", "--display-name", "Alice Li",
    )  # fmt: skip
    assert re.search(r"Created user alice \(id \d+, role sales\)", result.stdout)
    cli.ok("user", "add", "bob", "--role", "viewer")
    listing = cli.ok("user", "list").stdout
    alice = table_row(listing, "1")
    assert alice[1:] == ["alice", "Alice Li", "sales", "North", "yes"]
    assert table_row(listing, "2")[1:] == ["bob", "bob", "viewer", "-", "yes"]
    assert cli.rows("SELECT email FROM core_user WHERE username = 'alice'") == [
        ("alice@example.com",)
    ]

    result = cli.ok("user", "update", "alice", "--role", "manager", "--team", "South")
    assert "Updated alice: role manager, active True" in result.stdout
    result = cli.ok("user", "update", "alice", "--inactive")
    assert "active False" in result.stdout
    listing = cli.ok("user", "list").stdout
    assert table_row(listing, "1")[1:] == ["alice", "Alice Li", "manager", "South", "no"]
    cli.ok("user", "update", "alice", "--team", "", "--active")
    assert table_row(cli.ok("user", "list").stdout, "1")[4:] == ["-", "yes"]
    # every change was audited with the system actor
    assert (
        cli.rows("SELECT action, entity FROM core_audit_log WHERE actor IS NULL ORDER BY id")
        == [("created", "team")] * 2 + [("created", "user")] * 2 + [("updated", "user")] * 3
    )


def test_user_errors(cli):
    cli.ok("user", "add", "carol", "--role", "sales")
    assert "exists" in cli.fails("user", "add", "carol", "--role", "sales")
    assert "Team 'Nowhere' not found" in cli.fails(
        "user", "add", "dave", "--role", "sales", "--team", "Nowhere"
    )
    assert "User 'ghost' not found" in cli.fails("user", "update", "ghost", "--role", "admin")
    assert "Invalid e-mail" in cli.fails("user", "add", "erin", "--role", "sales", "--email", "x")
    cli.ok("team", "add", "T")
    assert "Team 'T' exists" in cli.fails("team", "add", "T")
    # a bad --role is a usage error (click), exit 2
    result = cli("user", "add", "frank", "--role", "emperor")
    assert result.exit_code == 2
    assert "emperor" in result.stderr
    assert cli.count("core_user") == 1


def test_apikey_create_list_revoke(cli):
    cli.ok("user", "add", "bob", "--role", "sales")
    result = cli.ok("apikey", "create", "--user", "bob", "--name", "zapier", "--expires-days", "30")
    key = result.stdout.strip()
    assert KEY.fullmatch(key), result.stdout  # stdout is the key alone (scriptable)
    prefix, secret = key.removeprefix("kehu_").split("_", 1)
    assert f"API key {prefix} for bob" in result.stderr

    listing = cli.ok("apikey", "list").stdout
    row = table_row(listing, prefix)
    assert row[1:3] == ["bob", "zapier"]
    assert row[-1] == "-"  # not revoked
    assert row[-2] != "-"  # expires
    assert secret not in listing and key not in listing
    (key_hash,) = cli.rows("SELECT key_hash FROM core_api_key")[0]
    assert key_hash not in listing and secret not in key_hash
    assert prefix in cli.ok("apikey", "list", "--user", "bob").stdout

    actor = cli.run(lambda kehu: users.authenticate(key))
    assert (actor.username, actor.role) == ("bob", "sales")

    assert f"Revoked API key {prefix}" in cli.ok("apikey", "revoke", prefix).stdout
    assert table_row(cli.ok("apikey", "list").stdout, prefix)[-1] != "-"

    async def rejected(kehu):
        with pytest.raises(Unauthenticated, match="revoked"):
            await users.authenticate(key)

    cli.run(rejected)
    assert "already revoked" in cli.fails("apikey", "revoke", key)  # the whole key works too
    assert "not found" in cli.fails("apikey", "revoke", "0123456789ab")


def test_apikey_create_for_inactive_or_unknown_user(cli):
    assert cli.fails("apikey", "create", "--user", "nobody") == "Error: User 'nobody' not found"
    cli.ok("user", "add", "gone", "--role", "sales")
    cli.ok("user", "update", "gone", "--inactive")
    assert "inactive" in cli.fails("apikey", "create", "--user", "gone")
    assert cli.count("core_api_key") == 0


# -- introspection ---------------------------------------------------------------------------


def test_plugins_lists_core(cli):
    output = cli.ok("plugins").stdout
    row = table_row(output, "core")
    assert row[1] == "0.1.0"
    assert row[2] == "-"
    for hook in ("kehu_plugin_info", "kehu_piccolo_app", "kehu_jobs", "kehu_permissions"):
        assert hook in output


def test_schema_prints_sdl_without_a_database(tmp_path, cli_at):
    missing = tmp_path / "no" / "such" / "dir"
    cli = cli_at(f"sqlite:///{missing / 'kehu.db'}")
    result = cli.ok("schema")
    assert "type Customer " in result.stdout
    assert "type Query" in result.stdout and "type Mutation" in result.stdout
    assert "customers(" in result.stdout
    assert not (tmp_path / "no").exists()


@pytest.mark.filterwarnings("ignore:.*Unable to connect to database")
def test_schema_on_an_unreachable_postgres(cli_at):
    cli = cli_at("postgresql://nobody@127.0.0.1:1/none")
    assert "type Customer " in cli.ok("schema").stdout


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
    return paths


COMMANDS = _command_paths(main)


def test_every_command_is_covered():
    top = {p[0] for p in COMMANDS}
    assert {"init", "migrate", "serve", "worker", "demo", "plugins", "schema", "user", "team",
            "apikey", "jobs", "import", "export"} <= top  # fmt: skip
    assert ("apikey", "revoke") in COMMANDS and ("import", "contacts") in COMMANDS


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "kehu")
def test_help_of_every_command(tmp_path, cli_at, path):
    # help never needs the database
    cli = cli_at(f"sqlite:///{tmp_path / 'missing' / 'kehu.db'}")
    result = cli.ok(*path, "--help")
    assert result.stdout.startswith("Usage: ")
    assert cli.ok(*path, "-h").stdout == result.stdout
    assert not (tmp_path / "missing").exists()


def test_version(cli):
    assert "0.1.0" in cli.ok("--version").stdout


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("migrate",), ("plugins",), ("user", "list"), ("schema",)])
def test_unknown_plugin_exits_2(cli, command):
    reason = cli.fails(*command, code=2, KEHU_PLUGINS="core,nope")
    assert "Unknown plugin(s) nope" in reason
    assert "installed:" in reason


def test_long_error_reason_stays_on_one_line(cli):
    name = "x" * 120
    reason = cli.fails("apikey", "create", "--user", name, COLUMNS="80")
    assert reason == f"Error: User {name!r} not found"


def test_unknown_plugin_via_option(cli):
    reason = cli.fails("--plugins", "nope", "migrate", code=2)
    assert "nope" in reason


def test_unknown_command_is_a_usage_error(cli):
    result = cli("frobnicate")
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr


def test_unsupported_database_url(cli_at):
    result = cli_at("mysql://x@y/z")("migrate")
    assert result.exit_code != 0
    assert "Unsupported KEHU_DATABASE_URL" in str(result.exception) + result.stderr


# -- jobs ------------------------------------------------------------------------------------


def test_jobs_list_and_run(cli):
    listing = cli.ok("jobs", "list").stdout
    row = table_row(listing, "core.stale-customers")
    assert row[1] == "every 1 day, 0:00:00"
    assert row[2] == "-"  # never ran

    result = cli.ok("jobs", "run", "core.stale-customers")
    assert result.stdout.strip() == (
        "core.stale-customers: ok 0 stale-customer review task(s) planned"
    )
    row = table_row(cli.ok("jobs", "list").stdout, "core.stale-customers")
    assert row[2] != "-" and row[3] == "ok"
    assert cli.rows("SELECT run_count, last_status FROM core_job_state") == [(1, "ok")]


def test_jobs_run_unknown_job(cli):
    reason = cli.fails("jobs", "run", "nope")
    assert reason == "Error: Unknown job 'nope'; jobs: core.stale-customers, core.prune-events"


def test_jobs_run_locked_exits_1(cli):
    cli.ok("jobs", "run", "core.stale-customers")
    far = "2999-01-01 00:00:00+00:00"
    cli.run(lambda kehu: _lock(far))
    result = cli("jobs", "run", "core.stale-customers")
    assert result.exit_code == 1
    assert "core.stale-customers: locked" in result.stdout


async def _lock(until: str) -> None:
    from datetime import datetime

    from kehu.core.tables import JobState

    await JobState.update(
        {JobState.locked_until: datetime.fromisoformat(until), JobState.locked_by: "other"}
    ).where(JobState.name == "core.stale-customers")


def test_worker_once_runs_due_jobs(cli):
    result = cli.ok("worker", "--once")
    assert "core.stale-customers: ok" in result.stdout
    # not due again for a day
    assert cli.ok("worker", "--once").stdout.strip() == ""


# -- outside a project -----------------------------------------------------------------------


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """An empty folder that is no Kehu project, as the working directory."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize("command", [("user", "list"), ("migrate",), ("demo",), ("serve",)])
def test_outside_a_project_one_line_and_nothing_is_created(cli, elsewhere, command):
    reason = cli.fails(*command, KEHU_DATABASE_URL=None, KEHU_CONFIG=None)
    assert reason == "Error: no kehu.toml here; run kehu init or set KEHU_CONFIG"
    assert list(elsewhere.iterdir()) == []


def test_commands_that_need_no_database_work_anywhere(cli, elsewhere):
    assert "type Customer " in cli.ok("schema", KEHU_DATABASE_URL=None).stdout
    assert "kehu_plugin_info" in cli.ok("plugins", KEHU_DATABASE_URL=None).stdout
    assert "Commands:" in cli.ok("--help", KEHU_DATABASE_URL=None).stdout
    assert list(elsewhere.iterdir()) == []


def test_config_option_and_variable_choose_the_file_and_its_folder(cli, elsewhere, tmp_path):
    project = tmp_path / "crm"
    project.mkdir()
    config = project / "kehu.toml"
    env = {"KEHU_DATABASE_URL": None, "KEHU_CONFIG": None}  # restored after each run
    missing = cli.fails("--config", str(config), "user", "list", **env)
    assert "names" in missing and "does not exist" in missing
    cli.ok("--config", str(config), "init", **env)
    assert config.is_file() and not (elsewhere / "kehu.toml").exists()
    cli.ok("--config", str(config), "migrate", **env)
    assert (project / "kehu.db").is_file()  # relative to the file, not the working directory
    cli.ok("--config", str(config), "user", "add", "ann", "--role", "sales", **env)
    listed = cli.ok("user", "list", **{**env, "KEHU_CONFIG": str(config)}).stdout
    assert "ann" in listed
    assert list(elsewhere.iterdir()) == []


def test_an_unmigrated_database_is_one_line(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    reason = cli.fails("user", "list", KEHU_DATABASE_URL=url)
    assert reason == "Error: the database has no Kehu tables (or misses some); run kehu migrate"


def test_plugins_wraps_long_hook_names_on_a_narrow_terminal(cli):
    output = cli.ok("plugins", COLUMNS="60", KEHU_PLUGINS=None).stdout
    assert "…" not in output
    flat = "".join(output.split())  # folded names are whole again without the cell breaks
    assert "kehu_graphql_dataloaders" in flat.replace("│", "")
