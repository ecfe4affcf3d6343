"""A process that dies right after a commit loses nothing: after a restart the commission
line, the webhook delivery (with the same ``webhook-id`` on every attempt, verified with the
``standardwebhooks`` library) and the e-mail all arrive. And ``kill -9`` of ``kehu serve``
in the middle of a webhook delivery: the restarted server delivers it again."""

import subprocess
import sys
import textwrap
import time
from datetime import date
from typing import Any

from standardwebhooks.webhooks import Webhook as Verifier

from kehu.core.money import Money
from kehu.core.permissions import system_actor

WEBHOOKS = """
[plugin_settings.webhooks]
allowed_hosts = ["127.0.0.1"]
retry_schedule_seconds = [0.3, 0.3, 0.3, 0.3, 0.3]
max_pause_seconds = 0.3
timeout_seconds = 3
"""
CLAUSES = {
    "title": "Supply",
    "delivery_deadline": date(2026, 3, 1),
    "payment_method": "bank_transfer",
    "payment_terms": "100",
    "breach_liability": "10%",
    "acceptance_terms": "15 days",
}


async def _setup(kehu: Any, receiver_url: str) -> dict[str, Any]:
    """A rep on a collected-basis plan, a signed and invoiced contract of their customer (with
    a contact who gets the survey mail), an open ticket, and a webhook for payments and
    tickets."""
    from kehu.core.services import contacts, customers, users
    from kehu.plugins.contracts import services
    from kehu.plugins.contracts import services as contracts
    from kehu.plugins.incentives.services import plans
    from kehu.plugins.tickets.services import tickets
    from kehu.plugins.webhooks.services import endpoints

    system = system_actor()
    admin = await users.create_user(
        system, {"username": "admin", "role": "admin", "email": "admin@example.com"}
    )
    rep = await users.create_user(system, {"username": "rep", "role": "sales"})
    customer = await customers.create_customer(
        system, {"name": "Crash Test Co", "owner": rep["id"]}
    )
    await contacts.create_contact(
        system,
        customer["id"],
        {"name": "Wang Li", "email": "wang.li@example.com", "is_primary": True},
    )
    plan = await plans.create_plan(
        system,
        {
            "name": "Collected",
            "basis": "collected",
            "effective_from": date(2020, 1, 1),
            "rate": "0.1",
        },
    )
    await plans.assign_plan(system, plan["id"], user_id=rep["id"])
    contract = await contracts.create_contract(
        system,
        customer["id"],
        {
            **CLAUSES,
            "lines": [
                {
                    "product": "P",
                    "specification": "S",
                    "quantity": 1,
                    "unit_price": Money(100_000, "CNY"),
                }
            ],
        },
    )
    contract = await contracts.submit_contract(system, contract["id"])
    while contract["status"] == "pending_approval":
        contract = await contracts.decide_approval(system, contract["id"], True, "ok")
    contract = await contracts.sign_contract(system, contract["id"], signed_on=date(2026, 1, 5))
    [installment] = (await services.installments_by_contract([contract["id"]]))[contract["id"]]
    await services.issue_invoice(system, contract["id"], installment_id=installment["id"])
    ticket = await tickets.create_ticket(system, customer["id"], {"subject": "Broken part"})
    await tickets.change_status(system, ticket["id"], "resolved")
    _, secret = await endpoints.create_webhook(
        system, {"url": receiver_url + "/hook", "events": ["payment.*", "ticket.*"]}, owner="admin"
    )
    return {
        "customer": customer["id"],
        "installment": installment["id"],
        "ticket": ticket["id"],
        "secret": secret,
        "admin": admin["id"],
    }


CRASH = textwrap.dedent("""
    import asyncio, os, sys
    from kehu.core.money import Money
    from kehu.core.permissions import system_actor
    from kehu.core.runtime import Kehu
    from kehu.core.settings import Settings
    from kehu.core.events import unit_of_work
    from kehu.plugins.contracts import services
    from kehu.plugins.tickets.services import tickets

    async def main():
        kehu = Kehu(Settings())
        await kehu.start()

        async def die(events):  # the process is killed right after the commit
            os._exit(137)

        kehu.events.committed = die
        customer, installment, ticket = map(int, sys.argv[1:4])
        async with unit_of_work():
            await services.record_payment(
                system_actor(), customer, Money(100_000, "CNY"),
                allocations=[(installment, Money(100_000, "CNY"))])
            await tickets.change_status(system_actor(), ticket, "closed")

    asyncio.run(main())
""")


async def _counts(kehu: Any) -> dict[str, int]:
    from kehu.core.tables import EventRecord, MailMessage
    from kehu.plugins.contracts.tables import Payment
    from kehu.plugins.incentives.tables import CommissionLine

    return {
        "payments": await Payment.count(),
        "lines": await CommissionLine.count(),
        "mails": await MailMessage.count().where(MailMessage.kind == "survey_invitation"),
        "events": await EventRecord.count(),
    }


def test_a_crash_right_after_commit_loses_nothing(deployment, http_receiver, smtp_server):
    (deployment.workdir / "kehu.toml").write_text(WEBHOOKS)
    import tomllib

    webhooks = tomllib.loads(WEBHOOKS)["plugin_settings"]
    ids = deployment.run(lambda kehu: _setup(kehu, http_receiver.url), plugin_settings=webhooks)
    before = deployment.run(_counts)

    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH,
            str(ids["customer"]),
            str(ids["installment"]),
            str(ids["ticket"]),
        ],
        cwd=deployment.workdir,
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == 137, crashed.stderr
    after_crash = deployment.run(_counts)
    assert after_crash["payments"] == before["payments"] + 1  # committed
    assert after_crash["lines"] == before["lines"] == 0  # no handler ran
    assert after_crash["mails"] == 0
    assert after_crash["events"] > before["events"]
    assert http_receiver.received() == []

    # the receiver fails each event's first attempt; the restarted server retries
    attempts: dict[str, int] = {}

    def respond(request: Any) -> tuple[int, bytes, float]:
        key = request.headers["webhook-id"]
        attempts[key] = attempts.get(key, 0) + 1
        return (500 if attempts[key] == 1 else 200), b"", 0.0

    http_receiver.respond = respond
    deployment.serve(KEHU_SMTP_URL=smtp_server.url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = deployment.run(_counts)
        delivered = {k for k, n in attempts.items() if n >= 2}
        if counts["lines"] and smtp_server.messages and delivered and delivered == set(attempts):
            break
        time.sleep(0.3)
    counts = deployment.run(_counts)
    assert counts["lines"] >= 1, "the commission line of the payment"
    [mail] = [m for m in smtp_server.messages if m["To"] == "wang.li@example.com"]
    assert "/surveys/" in mail.get_content()
    names = set()
    for request in http_receiver.received("/hook"):
        body = Verifier(ids["secret"]).verify(request.body, request.headers)
        assert body["id"] == request.headers["webhook-id"]
        names.add(body["type"])
    assert {"payment.received", "payment.allocated", "ticket.status_changed"} <= names
    assert attempts and all(n == 2 for n in attempts.values()), attempts


def test_kill_9_of_the_server_during_a_delivery(deployment, http_receiver):
    (deployment.workdir / "kehu.toml").write_text(WEBHOOKS)
    import tomllib

    webhooks = tomllib.loads(WEBHOOKS)["plugin_settings"]

    async def setup(kehu: Any) -> tuple[str, str]:
        from kehu.core.services import users
        from kehu.plugins.webhooks.services import endpoints

        system = system_actor()
        await users.create_user(system, {"username": "admin", "role": "admin"})
        _, key = await users.create_api_key(system, "admin", "test")
        _, secret = await endpoints.create_webhook(
            system,
            {"url": http_receiver.url + "/hook", "events": ["customer.created"]},
            owner="admin",
        )
        return key, secret

    key, secret = deployment.run(setup, plugin_settings=webhooks)
    http_receiver.respond = lambda r: (200, b"", 20.0)  # holds the delivery open
    server, base = deployment.serve()
    deployment.graphql(
        base,
        key,
        'mutation { createCustomer(input: {name: "Killed Co"}) '
        "{ customer { id } errors { code } } }",
    )
    deadline = time.monotonic() + 15
    while not http_receiver.received() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert http_receiver.received(), deployment.log(server)
    first_id = http_receiver.received()[0].headers["webhook-id"]
    deployment.kill9(server)

    http_receiver.respond = lambda r: (200, b"", 0.0)
    deployment.serve()
    deadline = time.monotonic() + 45  # the dead server's lease expires (30 s at most)
    while len(http_receiver.received()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    requests = http_receiver.received()
    assert len(requests) >= 2
    assert {r.headers["webhook-id"] for r in requests} == {first_id}
    for request in requests:
        Verifier(secret).verify(request.body, request.headers)
