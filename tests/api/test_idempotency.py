"""``Idempotency-Key`` on mutations: one run per (API key, key) for 24 hours, the same
response on replay, a different request with the same key refused; over HTTP."""

import asyncio
from datetime import timedelta

import pytest

from kehu.core.services import idempotency
from kehu.core.services.common import now
from kehu.core.tables import Activity, Customer, IdempotencyRecord

CREATE = """mutation($name: String!) { createCustomer(input: {name: $name}) {
  customer { id name } errors { code } } }"""
LOG = """mutation($c: ID!, $s: String!) { logActivity(input: {customerId: $c, subject: $s}) {
  activity { id subject } errors { code } } }"""


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core"]


async def send(client, user, body: dict, key: str | None):
    headers = {"Authorization": f"Bearer {user.key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post("/graphql", json=body, headers=headers)


@pytest.fixture
async def customer(system):
    from kehu.core.graphql.base import encode_id
    from kehu.core.services import customers

    return encode_id("Customer", (await customers.create_customer(system, {"name": "Co"}))["id"])


def calls(subject: str) -> object:
    return Activity.count().where(Activity.subject == subject)


async def test_a_retried_mutation_runs_once_and_answers_the_same(kehu_client, make_user):
    user = await make_user("admin")
    body = {"query": CREATE, "variables": {"name": "Once Co"}}
    first = await send(kehu_client, user, body, "retry-1")
    again = await send(kehu_client, user, body, "retry-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["data"]["createCustomer"]["customer"]["name"] == "Once Co"
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await Customer.count().where(Customer.name == "Once Co") == 1


async def test_a_new_key_or_no_key_is_a_new_request(kehu_client, make_user, customer):
    user = await make_user("admin")
    body = {"query": LOG, "variables": {"c": customer, "s": "Call"}}
    first = await send(kehu_client, user, body, "log-1")
    assert (await send(kehu_client, user, body, "log-1")).json() == first.json()
    other = await send(kehu_client, user, body, "log-2")
    assert (
        other.json()["data"]["logActivity"]["activity"]["id"]
        != (first.json()["data"]["logActivity"]["activity"]["id"])
    )
    assert "errors" not in (await send(kehu_client, user, body, None)).json()
    assert await calls("Call") == 3


async def test_the_same_key_with_another_request_is_refused(kehu_client, make_user):
    user = await make_user("sales")
    await send(kehu_client, user, {"query": CREATE, "variables": {"name": "A"}}, "k")
    reused = await send(kehu_client, user, {"query": CREATE, "variables": {"name": "B"}}, "k")
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await Customer.count().where(Customer.name == "B") == 0


async def test_keys_belong_to_one_api_key(kehu_client, make_user, customer):
    ann, bob = await make_user("admin"), await make_user("admin")
    body = {"query": LOG, "variables": {"c": customer, "s": "Shared key"}}
    a = await send(kehu_client, ann, body, "same")
    b = await send(kehu_client, bob, body, "same")
    assert "idempotent-replayed" not in b.headers
    assert a.json() != b.json()
    assert await calls("Shared key") == 2


async def test_concurrent_retries_run_the_mutation_once(kehu_client, make_user, customer):
    user = await make_user("admin")
    body = {"query": LOG, "variables": {"c": customer, "s": "Busy"}}
    answers = await asyncio.gather(*(send(kehu_client, user, body, "call-1") for _ in range(6)))
    assert {a.status_code for a in answers} <= {200, 409}
    assert await calls("Busy") == 1
    ok = [a.json() for a in answers if a.status_code == 200]
    assert ok and all(o == ok[0] for o in ok)
    busy = [a.json() for a in answers if a.status_code == 409]
    assert all(b["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_USE" for b in busy)


async def test_queries_and_bad_keys(kehu_client, make_user):
    user = await make_user("sales")
    query = {"query": "{ me { username } }"}
    assert (await send(kehu_client, user, query, "q")).json()["data"]["me"]
    assert await IdempotencyRecord.count() == 0  # queries are not recorded
    bad = await send(kehu_client, user, {"query": CREATE, "variables": {"name": "x"}}, "x" * 300)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    anonymous = await kehu_client.post(
        "/graphql",
        json={"query": CREATE, "variables": {"name": "x"}},
        headers={"Idempotency-Key": "a"},
    )
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await Customer.count() == 0


async def test_keys_expire_after_a_day_and_are_pruned(kehu_client, make_user, customer):
    user = await make_user("admin")
    body = {"query": LOG, "variables": {"c": customer, "s": "Daily"}}
    await send(kehu_client, user, body, "daily")
    await IdempotencyRecord.update(
        {IdempotencyRecord.created_at: now() - timedelta(hours=25)}, force=True
    )
    fresh = await send(kehu_client, user, body, "daily")
    assert "idempotent-replayed" not in fresh.headers
    assert await calls("Daily") == 2
    await IdempotencyRecord.update(
        {IdempotencyRecord.created_at: now() - timedelta(hours=25)}, force=True
    )
    assert await idempotency.prune() == 1
    assert await IdempotencyRecord.count() == 0


async def test_a_claim_of_a_dead_request_is_taken_over_after_its_lease(kehu):
    started = await idempotency.begin("scope", "k", "f")
    assert isinstance(started, idempotency.Started)
    assert isinstance(await idempotency.begin("scope", "k", "f"), idempotency.InFlight)
    later = now() + idempotency.LEASE + timedelta(seconds=1)
    again = await idempotency.begin("scope", "k", "f", at=later)
    assert again == idempotency.Started(started.record_id)
    await idempotency.finish(started.record_id, 200, "application/json", '{"data": 1}')
    assert await idempotency.begin("scope", "k", "f") == idempotency.Replay(
        200, "application/json", '{"data": 1}'
    )
