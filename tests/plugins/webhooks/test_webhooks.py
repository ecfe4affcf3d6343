"""Webhooks through GraphQL against a real HTTP receiver on 127.0.0.1: signed with the
Standard Webhooks scheme (verified with the ``standardwebhooks`` library), retried with the
same ``webhook-id``, in commit order per entity, logged, filtered, scoped to the owner."""

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from kehu.core.services import customers
from kehu.core.services.common import now
from kehu.core.tables import EventSubscriber, MailMessage
from kehu.core.testing import eventually
from kehu.plugins.webhooks.tables import Webhook, WebhookAttempt

FAST = {
    "allowed_hosts": ["127.0.0.1"],
    "retry_schedule_seconds": [0.05, 0.05, 0.05, 0.05],
    "max_pause_seconds": 0.05,
    "timeout_seconds": 2,
}


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["webhooks"]


@pytest.fixture
def kehu_settings_overrides() -> dict[str, Any]:
    return {"plugin_settings": {"webhooks": FAST}}


CREATE = """
mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) {
    webhook { id databaseId url events secret active }
    errors { field message code }
  }
}"""


async def create(gql, user, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": {"url": url, "events": events, **extra}}, user=user)
    return body["data"]["createWebhook"]


async def hook(gql, user, receiver, events=("customer.*",), **extra: Any) -> dict[str, Any]:
    result = await create(gql, user, receiver.url + "/hook", list(events), **extra)
    assert result["errors"] == [], result
    return result["webhook"]


def verified(receiver, secret: str) -> list[dict[str, Any]]:
    """Every received body, each verified with the standardwebhooks library."""
    out = []
    for request in receiver.received("/hook"):
        out.append(Verifier(secret).verify(request.body, request.headers))
    return out


async def test_create_shows_the_secret_once_and_delivers_signed_events(
    kehu, gql, make_user, http_receiver, system
):
    admin = await make_user("admin")
    webhook = await hook(gql, admin, http_receiver)
    assert webhook["secret"].startswith("whsec_")
    listed = await gql("{ webhooks { totalCount nodes { id secret url events } } }", user=admin)
    assert listed["data"]["webhooks"]["totalCount"] == 1
    assert listed["data"]["webhooks"]["nodes"][0]["secret"] is None
    stored = await Webhook.select(Webhook.secret).first()
    assert "whsec_" not in stored["secret"]  # encrypted at rest

    row = await customers.create_customer(system, {"name": "Signed Co", "tier": "gold"})
    bodies = await eventually(lambda: verified(http_receiver, webhook["secret"]), kehu)
    assert [b["type"] for b in bodies] == ["customer.created"]
    body = bodies[0]
    assert body["entity"] == "customer" and body["entity_id"] == row["id"]
    assert body["data"]["name"] == "Signed Co" and body["data"]["tier"] == "gold"
    request = http_receiver.received("/hook")[0]
    assert request.headers["webhook-id"] == body["id"]
    assert request.headers["content-type"] == "application/json"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 30


async def test_bad_input_is_a_typed_payload_error(kehu, gql, make_user, http_receiver):
    admin = await make_user("admin")
    cases = [
        ("ftp://example.com/x", ["customer.*"], {}, "url", "INVALID_URL"),
        ("http://user:pw@127.0.0.1/x", ["customer.*"], {}, "url", "INVALID_URL"),
        ("http://10.1.2.3/hook", ["customer.*"], {}, "url", "PRIVATE_URL"),
        ("http://169.254.169.254/latest", ["customer.*"], {}, "url", "PRIVATE_URL"),
        (http_receiver.url, ["custmer.*"], {}, "events", "UNKNOWN_EVENT"),
        (http_receiver.url, [], {}, "events", "REQUIRED"),
        (
            http_receiver.url,
            ["customer.*"],
            {"payloadQuery": "{ nope }"},
            "payloadQuery",
            "INVALID_PAYLOAD_QUERY",
        ),
        (
            http_receiver.url,
            ["customer.*"],
            {"payloadQuery": "mutation { x }"},
            "payloadQuery",
            "INVALID_PAYLOAD_QUERY",
        ),
        (
            http_receiver.url,
            ["customer.*"],
            {"payloadQuery": "query($x: ID) { me { id } }"},
            "payloadQuery",
            "INVALID_PAYLOAD_QUERY",
        ),
    ]
    for url, events, extra, field, code in cases:
        result = await create(gql, admin, url, events, **extra)
        assert result["webhook"] is None, url
        assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, code)], result
    assert await Webhook.count() == 0


async def test_loopback_is_refused_unless_allowed(kehu, gql, make_user, http_receiver, monkeypatch):
    admin = await make_user("admin")
    settings = kehu.plugin_settings("webhooks")
    monkeypatch.setattr(settings, "allowed_hosts", [])
    result = await create(gql, admin, http_receiver.url, ["customer.*"])
    assert result["errors"][0]["code"] == "PRIVATE_URL"


async def test_only_admins_manage_webhooks_by_default(kehu, gql, make_user, http_receiver):
    rep = await make_user("sales")
    body = await gql(
        CREATE,
        {"input": {"url": http_receiver.url, "events": ["customer.*"]}},
        user=rep,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_receiver_down_for_a_while_gets_every_event_in_order(
    kehu, gql, make_user, http_receiver, system
):
    admin = await make_user("admin")
    webhook = await hook(gql, admin, http_receiver, events=["customer.*"])
    http_receiver.respond = lambda r: (503, b"maintenance", 0.0)
    first = await customers.create_customer(system, {"name": "Order One"})
    second = await customers.create_customer(system, {"name": "Order Two"})
    for version, name in ((1, "Order One b"), (2, "Order One c")):
        await customers.update_customer(system, first["id"], version, {"name": name})
    await customers.update_customer(system, second["id"], 1, {"name": "Order Two b"})
    await eventually(lambda: len(http_receiver.received()) >= 3, kehu)
    http_receiver.respond = lambda r: (200, b"ok", 0.0)

    async def all_delivered() -> list[dict[str, Any]]:
        ok = (
            await WebhookAttempt.select()
            .where(WebhookAttempt.succeeded.eq(True))
            .order_by(WebhookAttempt.id)
        )
        return ok if len({r["event_id"] for r in ok}) == 5 else []

    delivered = await eventually(all_delivered, kehu, timeout=20)
    assert delivered
    # every attempt carried a valid signature and, per event, the same webhook-id
    bodies = {}
    for request in http_receiver.received("/hook"):
        body = Verifier(webhook["secret"]).verify(request.body, request.headers)
        assert body["id"] == request.headers["webhook-id"]
        bodies[body["id"]] = body
    tries = [r.headers["webhook-id"] for r in http_receiver.received("/hook")]
    assert set(tries) == set(bodies) and len(tries) > len(bodies)  # retried, same ids
    # per entity, the successful deliveries follow commit order
    for entity in (first["id"], second["id"]):
        seqs = [
            bodies[r["event_id"]]["seq"]
            for r in delivered
            if bodies[r["event_id"]]["entity_id"] == entity
        ]
        assert seqs == sorted(seqs) and len(seqs) == (3 if entity == first["id"] else 2)
    log = await gql(
        "query($id: ID!) { webhookDeliveries(webhookId: $id, first: 50) { nodes { eventId "
        "attempt succeeded responseStatus latencyMs responseExcerpt error willRetry } } }",
        {"id": webhook["id"]},
        user=admin,
    )
    nodes = log["data"]["webhookDeliveries"]["nodes"]
    failed = [n for n in nodes if not n["succeeded"]]
    assert failed and all(n["responseStatus"] == 503 for n in failed)
    assert all(n["responseExcerpt"] == "maintenance" and n["error"] == "HTTP 503" for n in failed)
    assert all(n["willRetry"] for n in failed)


async def test_redirects_are_not_followed_and_big_answers_are_cut(
    kehu, gql, make_user, http_receiver, system
):
    admin = await make_user("admin")
    await hook(gql, admin, http_receiver)
    http_receiver.respond = lambda r: (302, b"moved", 0.0)
    await customers.create_customer(system, {"name": "Redirected"})
    await eventually(lambda: http_receiver.received(), kehu)
    attempt = await WebhookAttempt.select().first()
    assert not attempt["succeeded"] and attempt["error"] == "redirects are not followed"
    assert len(http_receiver.received()) >= 1  # nothing was fetched from the Location

    http_receiver.respond = lambda r: (200, b"x" * 10_000_000, 0.0)
    started = time.monotonic()

    async def succeeded() -> bool:
        return await WebhookAttempt.exists().where(WebhookAttempt.succeeded.eq(True))

    assert await eventually(succeeded, kehu)
    row = await WebhookAttempt.select().where(WebhookAttempt.succeeded.eq(True)).first()
    assert len(row["response_excerpt"]) == 1024
    assert time.monotonic() - started < 10


async def test_a_slow_endpoint_never_delays_another(
    kehu, gql, make_user, http_receiver, system, monkeypatch
):
    admin = await make_user("admin")
    monkeypatch.setattr(kehu.plugin_settings("webhooks"), "timeout_seconds", 1.0)
    slow = await create(gql, admin, http_receiver.url + "/slow", ["customer.*"])
    fast = await create(gql, admin, http_receiver.url + "/hook", ["customer.*"])
    assert not slow["errors"] and not fast["errors"]
    http_receiver.respond = lambda r: (200, b"", 5.0 if r.path == "/slow" else 0.0)
    await kehu.events.start_background()
    try:
        started = time.monotonic()
        await customers.create_customer(system, {"name": "Race"})
        for _ in range(200):
            if http_receiver.received("/hook"):
                break
            await asyncio.sleep(0.02)
        assert http_receiver.received("/hook")
        assert time.monotonic() - started < 1.0  # before the slow endpoint's timeout
        timed_out = None
        for _ in range(250):  # the slow one times out after 1 s; allow a loaded machine 5 s
            timed_out = (
                await WebhookAttempt.select()
                .where(WebhookAttempt.webhook == slow["webhook"]["databaseId"])
                .first()
            )
            if timed_out is not None:
                break
            await asyncio.sleep(0.02)
        assert timed_out is not None and "timed out" in timed_out["error"]
    finally:
        await kehu.events.stop_background()


async def test_event_filters_with_globs(kehu, gql, make_user, http_receiver, system):
    admin = await make_user("admin")
    await hook(gql, admin, http_receiver, events=["*.archived"])
    row = await customers.create_customer(system, {"name": "Glob Co"})
    await customers.archive_customer(system, row["id"])
    bodies = await eventually(lambda: [r.json() for r in http_receiver.received()], kehu)
    await kehu.events.drain()
    assert [b["type"] for b in bodies] == ["customer.archived"]


async def test_rotation_signs_with_both_secrets_during_the_grace(
    kehu, gql, make_user, http_receiver, system
):
    admin = await make_user("admin")
    webhook = await hook(gql, admin, http_receiver)
    rotated = await gql(
        "mutation($id: ID!) { rotateWebhookSecret(input: {id: $id, graceHours: 1}) "
        "{ webhook { secret } errors { code } } }",
        {"id": webhook["id"]},
        user=admin,
    )
    new = rotated["data"]["rotateWebhookSecret"]["webhook"]["secret"]
    assert new.startswith("whsec_") and new != webhook["secret"]
    await customers.create_customer(system, {"name": "Rotated"})
    await eventually(lambda: http_receiver.received(), kehu)
    assert verified(http_receiver, webhook["secret"])  # the old secret still verifies
    assert verified(http_receiver, new)
    assert len(http_receiver.received()[0].headers["webhook-signature"].split(" ")) == 2

    await Webhook.update({Webhook.previous_secret_until: now() - timedelta(seconds=1)}, force=True)
    await customers.create_customer(system, {"name": "After Grace"})
    await eventually(lambda: len(http_receiver.received()) == 2, kehu)
    last = http_receiver.received()[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    Verifier(new).verify(last.body, last.headers)


class TestOwnerVisibility:
    @pytest.fixture
    def kehu_settings_overrides(self) -> dict[str, Any]:
        return {
            "plugin_settings": {"webhooks": FAST},
            "permissions": {"webhook:manage": ["admin", "sales"]},
        }

    async def test_payloads_never_show_more_than_the_owner_may_see(
        self, kehu, gql, make_user, http_receiver, system
    ):
        rep = await make_user("sales", team="North")
        other = await make_user("sales", team="North")
        await hook(gql, rep, http_receiver)
        await customers.create_customer(system, {"name": "Mine", "owner": rep.id})
        await customers.create_customer(system, {"name": "Not Mine", "owner": other.id})
        await eventually(lambda: http_receiver.received(), kehu)
        await kehu.events.drain()
        names = [r.json()["data"]["name"] for r in http_receiver.received()]
        assert names == ["Mine"]
        # and the rep sees only their own webhooks
        admin = await make_user("admin")
        await hook(gql, admin, http_receiver, events=["customer.created"])
        mine = await gql("{ webhooks { totalCount } }", user=rep)
        assert mine["data"]["webhooks"]["totalCount"] == 1


async def test_payload_query_shapes_the_payload_as_the_owner(
    kehu, gql, make_user, http_receiver, system
):
    admin = await make_user("admin")
    query = "query($id: ID!) { node(id: $id) { ... on Customer { name tier } } }"
    await hook(gql, admin, http_receiver, events=["customer.created"], payloadQuery=query)
    await customers.create_customer(system, {"name": "Shaped", "tier": "silver"})
    bodies = await eventually(lambda: [r.json() for r in http_receiver.received()], kehu)
    assert bodies[0]["data"] == {"node": {"name": "Shaped", "tier": "silver"}}
    assert bodies[0]["type"] == "customer.created"


async def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owner_told(
    kehu, gql, make_user, http_receiver, system
):
    admin = await make_user("admin")
    await gql(
        'mutation { updateMe: setNotificationPreference(input: {kind: "webhook_disabled"'
        ", enabled: true}) { errors { code } } }",
        user=admin,
    )
    from kehu.core.tables import User

    await User.update({User.email: "owner@example.com"}).where(User.id == admin.id)
    webhook = await hook(gql, admin, http_receiver)
    http_receiver.respond = lambda r: (500, b"", 0.0)
    await Webhook.update({Webhook.failing_since: now() - timedelta(hours=25)}, force=True)
    await customers.create_customer(system, {"name": "Broken Receiver"})

    async def disabled() -> bool:
        row = await Webhook.select().first()
        return not row["active"]

    assert await eventually(disabled, kehu)
    row = await Webhook.select().first()
    assert "failing since" in row["disabled_reason"]
    mail = await MailMessage.select().where(MailMessage.kind == "webhook_disabled").first()
    assert mail["to_address"] == "owner@example.com"
    assert row["url"] in mail["subject"]
    # a disabled endpoint gets nothing; re-enabled, it resumes with what it missed
    count = len(http_receiver.received())
    http_receiver.respond = lambda r: (200, b"", 0.0)
    await customers.create_customer(system, {"name": "While Disabled"})
    await kehu.events.drain()
    assert len(http_receiver.received()) == count
    enabled = await gql(
        "mutation($id: ID!) { updateWebhook(input: {id: $id, active: true}) "
        "{ webhook { active failingSince } errors { code } } }",
        {"id": webhook["id"]},
        user=admin,
    )
    assert enabled["data"]["updateWebhook"]["webhook"] == {"active": True, "failingSince": None}

    async def got_missed() -> bool:
        return any(
            r.json().get("data", {}).get("name") == "While Disabled"
            for r in http_receiver.received()
        )

    assert await eventually(got_missed, kehu)


async def test_ping_redeliver_and_delete(kehu, gql, make_user, http_receiver, system):
    admin = await make_user("admin")
    webhook = await hook(gql, admin, http_receiver)
    ping = await gql(
        "mutation($id: ID!) { pingWebhook(input: {id: $id}) { delivery { succeeded "
        "responseStatus eventName } errors { code } } }",
        {"id": webhook["id"]},
        user=admin,
    )
    assert ping["data"]["pingWebhook"]["delivery"] == {
        "succeeded": True,
        "responseStatus": 200,
        "eventName": "webhook.ping",
    }
    assert verified(http_receiver, webhook["secret"])[0]["type"] == "webhook.ping"

    await customers.create_customer(system, {"name": "Again"})
    await eventually(lambda: len(http_receiver.received()) == 2, kehu)
    event_id = http_receiver.received()[-1].headers["webhook-id"]
    again = await gql(
        "mutation($w: ID!, $e: String!) { redeliverWebhookEvent(input: {webhookId: $w, "
        "eventId: $e}) { scheduled errors { code } } }",
        {"w": webhook["id"], "e": event_id},
        user=admin,
    )
    assert again["data"]["redeliverWebhookEvent"] == {"scheduled": 1, "errors": []}
    await eventually(lambda: len(http_receiver.received()) == 3, kehu)
    assert http_receiver.received()[-1].headers["webhook-id"] == event_id

    deleted = await gql(
        "mutation($id: ID!) { deleteWebhook(input: {id: $id}) { deletedId errors { code } } }",
        {"id": webhook["id"]},
        user=admin,
    )
    assert deleted["data"]["deleteWebhook"]["deletedId"] == webhook["id"]
    assert await Webhook.count() == 0
    assert not await EventSubscriber.exists().where(
        EventSubscriber.name == f"webhook:{webhook['databaseId']}"
    )
    await customers.create_customer(system, {"name": "After Delete"})
    await kehu.events.drain()
    assert len(http_receiver.received()) == 3
