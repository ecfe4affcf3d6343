"""``kehu events`` and ``kehu webhooks``: list, failed, replay, status, catalogue; add, list,
deliveries, ping, replay, rotate-secret, enable/disable, remove — against a real HTTP
receiver on 127.0.0.1."""

import json

from standardwebhooks.webhooks import Webhook as Verifier

from .test_cli import table_row

WEBHOOKS = "core,webhooks"


def _config(tmp_path, receiver_status: str = "") -> None:
    (tmp_path / "kehu.toml").write_text(
        '[plugin_settings.webhooks]\nallowed_hosts = ["127.0.0.1"]\n'
        "retry_schedule_seconds = [0.01]\nmax_pause_seconds = 0.01\n",
        encoding="utf-8",
    )


def test_events_list_shows_the_outbox(cli):
    cli.ok("team", "add", "North")
    cli.ok("user", "add", "ann", "--role", "sales", "--team", "North")
    listed = cli.ok("events", "list")
    assert table_row(listed.stdout, "2")[2] == "user.created"
    assert table_row(listed.stdout, "1")[2] == "team.created"
    only = cli.ok("events", "list", "--name", "team.*", "--json")
    [line] = only.stdout.strip().splitlines()
    event = json.loads(line)
    assert (event["name"], event["entity"], event["data"]["name"]) == (
        "team.created",
        "team",
        "North",
    )
    assert len(event["id"]) == 36


def test_events_status_failed_and_replay(cli):
    cli.ok("team", "add", "South")
    status = cli.ok("events", "status")
    assert "subscriber" in status.stdout
    assert "No failed deliveries." in cli.ok("events", "failed").stdout
    replayed = cli.ok("events", "replay", "1")
    assert "Replayed 0 deliveries" in replayed.stdout  # core alone has no subscriber
    reason = cli.fails("events", "replay")
    assert "Say what to replay" in reason
    reason = cli.fails("events", "replay", "nope")
    assert "No event 'nope'" in reason
    assert cli.fails("events", "list", "--since", "yesterday").startswith("Error: --since")


def test_events_catalogue_is_the_documented_markdown(cli):
    text = cli.ok("events", "catalogue").stdout
    assert "### `customer.created`" in text
    assert "| `tags` |" in text


def test_webhooks_from_the_command_line(cli, tmp_path, http_receiver):
    _config(tmp_path)
    env = {"KEHU_PLUGINS": WEBHOOKS}
    cli.ok("migrate", **env)
    cli.ok("user", "add", "boss", "--role", "admin", **env)
    added = cli.ok(
        "webhooks",
        "add",
        http_receiver.url + "/hook",
        "--events",
        "team.*, user.created",
        "--description",
        "ERP",
        **env,
    )
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    row = table_row(cli.ok("webhooks", "list", **env).stdout, "1")
    assert row[1] == http_receiver.url + "/hook" and "team.*" in row[2] and row[4] == "yes"

    pong = cli.ok("webhooks", "ping", "1", **env)
    assert "pong: HTTP 200" in pong.stdout
    cli.ok("team", "add", "East", **env)
    cli.ok("events", "deliver", **env)
    bodies = [Verifier(secret).verify(r.body, r.headers) for r in http_receiver.received()]
    assert [b["type"] for b in bodies] == ["webhook.ping", "team.created"]
    log = cli.ok("webhooks", "deliveries", "1", **env).stdout
    assert "team.created" in log and "webhook.ping" in log

    event_id = http_receiver.received()[-1].headers["webhook-id"]
    cli.ok("webhooks", "replay", "1", "--event", event_id, **env)
    assert http_receiver.received()[-1].headers["webhook-id"] == event_id

    http_receiver.respond = lambda r: (500, b"down", 0.0)
    reason = cli.fails("webhooks", "ping", "1", **env)
    assert "ping failed: HTTP 500" in reason
    cli.ok("team", "add", "West", **env)
    for _ in range(3):
        cli.ok("events", "deliver", **env)
    failed = cli.ok("events", "failed", "--subscriber", "webhook:1", **env).stdout
    assert "team.created" in failed and "HTTP 500" in failed

    rotated = cli.ok("webhooks", "rotate-secret", "1", "--grace-hours", "0", **env)
    assert rotated.stdout.strip().splitlines()[-1].startswith("whsec_")
    assert "disabled" in cli.ok("webhooks", "disable", "1", **env).stdout
    assert "enabled" in cli.ok("webhooks", "enable", "1", **env).stdout
    assert "Deleted webhook 1" in cli.ok("webhooks", "remove", "1", **env).stdout
    assert cli.fails("webhooks", "ping", "1", **env) == "Error: Webhook 1 not found"


def test_webhook_add_rejects_bad_input_with_one_line(cli, tmp_path):
    _config(tmp_path)
    env = {"KEHU_PLUGINS": WEBHOOKS}
    cli.ok("migrate", **env)
    cli.ok("user", "add", "boss", "--role", "admin", **env)
    reason = cli.fails("webhooks", "add", "http://10.0.0.8/x", "--events", "team.*", **env)
    assert "private" in reason
    reason = cli.fails("webhooks", "add", "http://127.0.0.1:9/x", "--events", "tem.*", **env)
    assert "No event matches 'tem.*'" in reason
