"""API-key authentication, GraphQL limits, error masking and the plain HTTP endpoints."""

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import kehu as kehu_package
from kehu.core.db import count_queries
from kehu.core.graphql.base import encode_id
from kehu.core.services import contacts, customers, users
from kehu.core.tables import ApiKey, Customer


@pytest.fixture
def kehu_plugins() -> list[str]:
    """Core only: plugins add timeline entries, hooks and fields of their own."""
    return ["core"]


def error_codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


async def post(client, query: str, variables: dict | None = None, headers: dict | None = None):
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    return response.json()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- authentication ----------------------------------------------------------------------

PROTECTED = [
    "{ me { id } }",
    "{ customers { totalCount } }",
    '{ customer(id: "Q3VzdG9tZXI6MQ") { id } }',
    '{ node(id: "Q3VzdG9tZXI6MQ") { id } }',
    "{ activities { totalCount } }",
    "{ users { id } }",
    "{ teams { id } }",
    "{ plugins { name } }",
    "{ auditLog { totalCount } }",
    '{ customerDuplicates(name: "x") { id } }',
]


async def test_no_key_is_unauthenticated_on_every_data_field(kehu, kehu_client, system):
    await customers.create_customer(system, {"name": "Secret Co"})
    for query in PROTECTED:
        body = await post(kehu_client, query)
        assert not any((body["data"] or {}).values()), query
        assert error_codes(body) == ["UNAUTHENTICATED"], query
        assert "API key" in body["errors"][0]["message"]
    body = await post(
        kehu_client, 'mutation { createCustomer(input: {name: "Anon"}) { customer { id } } }'
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert await Customer.count() == 1
    assert "Secret Co" not in str(body)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer", "Missing or malformed"),
        ("Bearer not-a-kehu-key", "Missing or malformed"),
        ("Basic dXNlcjpwYXNz", "Missing or malformed"),
        ("Bearer kehu_000000000000_secret", "Invalid API key"),
        ("Bearer kehu_", "Invalid API key"),
    ],
)
async def test_malformed_and_unknown_keys(kehu, kehu_client, make_user, header, message):
    await make_user("admin")
    body = await post(kehu_client, "{ me { id } }", headers={"Authorization": header})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert message in body["errors"][0]["message"]


async def test_wrong_secret_for_a_known_prefix(kehu, kehu_client, make_user):
    user = await make_user("admin")
    prefix, _, secret = user.key.removeprefix("kehu_").partition("_")
    for forged in (f"kehu_{prefix}_{secret[:-1]}x", f"kehu_{prefix}_", f"kehu_{prefix}"):
        body = await post(kehu_client, "{ me { id } }", headers=bearer(forged))
        assert error_codes(body) == ["UNAUTHENTICATED"], forged
        assert body["errors"][0]["message"] == "Invalid API key"


async def test_valid_key_identifies_the_user(kehu, kehu_client, make_user):
    user = await make_user("sales", team="North")
    for scheme in ("Bearer", "bearer"):
        body = await post(
            kehu_client,
            "{ me { id databaseId username role active team { name } } }",
            headers={"Authorization": f"{scheme} {user.key}"},
        )
        assert body["data"]["me"] == {
            "id": user.gid,
            "databaseId": user.id,
            "username": user.username,
            "role": "sales",
            "active": True,
            "team": {"name": "North"},
        }


async def test_revoked_key(kehu, kehu_client, make_user, system):
    user = await make_user("admin")
    _, second = await users.create_api_key(system, user.username, "second")
    await users.revoke_api_key(system, user.key)
    body = await post(kehu_client, "{ me { id } }", headers=bearer(user.key))
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "API key revoked"
    body = await post(kehu_client, "{ me { username } }", headers=bearer(second))
    assert body["data"]["me"]["username"] == user.username  # other keys keep working


async def test_expired_key(kehu, kehu_client, make_user, system):
    user = await make_user("admin")
    now = datetime.now(UTC)
    _, expired = await users.create_api_key(
        system, user.username, "old", expires_at=now - timedelta(seconds=1)
    )
    _, valid = await users.create_api_key(
        system, user.username, "new", expires_at=now + timedelta(days=1)
    )
    body = await post(kehu_client, "{ me { id } }", headers=bearer(expired))
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "API key expired"
    body = await post(kehu_client, "{ me { username } }", headers=bearer(valid))
    assert body["data"]["me"]["username"] == user.username


async def test_inactive_user(kehu, kehu_client, make_user, system):
    user = await make_user("admin")
    await users.update_user(system, user.id, {"active": False})
    body = await post(kehu_client, "{ me { id } }", headers=bearer(user.key))
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "User is inactive"
    await users.update_user(system, user.id, {"active": True})
    body = await post(kehu_client, "{ me { username } }", headers=bearer(user.key))
    assert body["data"]["me"]["username"] == user.username


async def test_last_used_at_is_recorded(kehu, kehu_client, make_user):
    user = await make_user("admin")
    prefix = user.key.removeprefix("kehu_").split("_")[0]

    async def last_used():
        row = await ApiKey.select(ApiKey.last_used_at).where(ApiKey.prefix == prefix).first()
        return row["last_used_at"]

    assert await last_used() is None
    before = datetime.now(UTC)
    await post(kehu_client, "{ me { id } }", headers=bearer(user.key))
    first = await last_used()
    assert first is not None
    assert before - timedelta(seconds=5) <= first <= datetime.now(UTC) + timedelta(seconds=5)
    # written at most once a minute...
    await post(kehu_client, "{ me { id } }", headers=bearer(user.key))
    assert await last_used() == first
    # ...and again once the recorded use is older than that
    old = first - timedelta(minutes=5)
    await ApiKey.update({ApiKey.last_used_at: old}).where(ApiKey.prefix == prefix)
    await post(kehu_client, "{ me { id } }", headers=bearer(user.key))
    assert await last_used() > old + timedelta(minutes=4)
    # failed authentication does not count as use
    await ApiKey.update({ApiKey.last_used_at: old}).where(ApiKey.prefix == prefix)
    await post(kehu_client, "{ me { id } }", headers=bearer(user.key + "x"))
    assert await last_used() == old


async def test_keys_are_stored_hashed(kehu, make_user, system):
    user = await make_user("admin")
    assert user.key.startswith("kehu_")
    prefix, _, secret = user.key.removeprefix("kehu_").partition("_")
    assert len(secret) >= 32
    rows = await ApiKey.select()
    [row] = [r for r in rows if r["prefix"] == prefix]
    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    stored = repr(rows)
    assert secret not in stored and user.key not in stored
    listed = await users.list_api_keys(system, user.username)
    assert listed and all("key_hash" not in r for r in listed)


# -- limits ------------------------------------------------------------------------------


def deep_query(depth: int) -> str:
    """contact → customer → contacts → customer … with the leaf ``depth`` levels below the
    root field (the root field is level 0, as the depth limiter counts)."""
    names = ["contact(id: $id)"] + [
        "customer" if i % 2 == 0 else "contacts" for i in range(depth - 1)
    ]
    query = "id"
    for name in reversed(names):
        query = f"{name} {{ {query} }}"
    return "query($id: ID!) { " + query + " }"


@pytest.mark.parametrize("kehu_settings_overrides", [{"graphql_max_cost": 10**9}])
async def test_query_depth_limit(kehu, kehu_client, make_user, system, kehu_settings_overrides):
    """Depth on its own (contacts nested six times is also too costly by default)."""
    user = await make_user("admin")
    c = await customers.create_customer(system, {"name": "Deep"})
    contact = await contacts.create_contact(system, c["id"], {"name": "Diver"})
    variables = {"id": encode_id("Contact", contact["id"])}
    limit = kehu.settings.graphql_max_depth
    assert limit == 12

    body = await post(kehu_client, deep_query(limit), variables, bearer(user.key))
    assert "errors" not in body, body
    assert body["data"]["contact"]["customer"]["contacts"][0]["customer"]

    with count_queries() as log:
        body = await post(kehu_client, deep_query(limit + 1), variables, bearer(user.key))
    assert body.get("data") is None
    [error] = body["errors"]
    assert f"exceeds maximum operation depth of {limit}" in error["message"]
    assert error["extensions"] == {"code": "QUERY_TOO_DEEP"}
    assert not [s for s in log.statements if "core_contact" in s]  # nothing was executed


async def test_alias_limit(kehu, kehu_client, make_user):
    user = await make_user("admin")
    limit = kehu.settings.graphql_max_aliases
    assert limit == 30

    def aliased(n: int) -> str:
        return "{ " + " ".join(f"a{i}: me {{ username }}" for i in range(n)) + " }"

    body = await post(kehu_client, aliased(limit), headers=bearer(user.key))
    assert "errors" not in body
    assert len(body["data"]) == limit
    body = await post(kehu_client, aliased(limit + 1), headers=bearer(user.key))
    assert body.get("data") is None
    assert body["errors"][0]["message"] == f"{limit + 1} aliases found. Allowed: {limit}"


async def test_a_repeated_query_is_validated_once_and_still_limited(kehu, kehu_client, make_user):
    """The validation cache hits for the same query text (the limiters' rules are the same
    objects on every request), and a query over a limit is refused every time, cached or not."""
    from strawberry.extensions.validation_cache import _get_validate_cache

    user = await make_user("admin")
    cache = _get_validate_cache(512)
    query = "{ me { username role } }"
    await post(kehu_client, query, headers=bearer(user.key))
    before = cache.cache_info()
    for _ in range(5):
        body = await post(kehu_client, query, headers=bearer(user.key))
        assert body["data"]["me"]["role"] == "admin"
    after = cache.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (5, 0)
    too_many = "{ " + " ".join(f"a{i}: me {{ username }}" for i in range(31)) + " }"
    for _ in range(2):
        body = await post(kehu_client, too_many, headers=bearer(user.key))
        assert body["errors"][0]["message"] == "31 aliases found. Allowed: 30"


async def test_token_limit(kehu, kehu_client, make_user, system):
    user = await make_user("admin")
    c = await customers.create_customer(system, {"name": "Tokens"}, tags=["keep"])
    limit = kehu.settings.graphql_max_tokens
    assert limit == 5000

    def many(n: int) -> str:  # one token per list item
        items = " ".join(['"x"'] * n)
        return (
            f'mutation {{ setCustomerTags(input: {{id: "{encode_id("Customer", c["id"])}", '
            f"remove: [{items}]}}) {{ customer {{ tags }} }} }}"
        )

    body = await post(kehu_client, many(limit - 50), headers=bearer(user.key))
    assert body["data"]["setCustomerTags"]["customer"]["tags"] == ["keep"]
    body = await post(kehu_client, many(limit), headers=bearer(user.key))
    assert body.get("data") is None
    assert f"more than {limit} tokens" in body["errors"][0]["message"]


# -- error masking -----------------------------------------------------------------------


async def test_unexpected_errors_are_masked(kehu, kehu_client, make_user, monkeypatch):
    user = await make_user("admin")

    async def explode(*args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(customers, "list_customers", explode)
    response = await kehu_client.post(
        "/graphql", json={"query": "{ customers { totalCount } }"}, headers=bearer(user.key)
    )
    assert response.status_code == 200
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    body = response.json()
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["Unexpected error."]
    # a code that tells the client it is not its mistake, and nothing more
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}


async def test_typed_and_validation_errors_keep_their_message(kehu, kehu_client, make_user):
    user = await make_user("admin")
    missing = encode_id("Customer", 4242)
    body = await post(
        kehu_client, f'{{ customer(id: "{missing}") {{ id }} }}', headers=bearer(user.key)
    )
    assert body["errors"][0]["message"] == f"Customer {missing} not found"
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await post(
        kehu_client, "{ customers(first: 500) { totalCount } }", headers=bearer(user.key)
    )
    assert body["errors"][0]["message"] == "first must be between 1 and 100, got 500"
    body = await post(kehu_client, "{ nope }", headers=bearer(user.key))
    assert body["errors"][0]["message"].startswith("Cannot query field 'nope' on type 'Query'.")
    viewer = await make_user("viewer")
    body = await post(
        kehu_client,
        'mutation { createCustomer(input: {name: "x"}) { customer { id } } }',
        headers=bearer(viewer.key),
    )
    assert body["errors"][0]["message"] == "Role 'viewer' lacks permission 'customer:write'"
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# -- HTTP endpoints ----------------------------------------------------------------------


async def test_health(kehu, kehu_client, kehu_backend):
    response = await kehu_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": kehu.engine.engine_type}
    assert kehu.engine.engine_type == {"sqlite": "sqlite", "postgres": "postgres"}[kehu_backend]


async def test_meta(kehu, kehu_client):
    response = await kehu_client.get("/meta")
    assert response.status_code == 200
    meta = response.json()
    assert meta["name"] == "kehu"
    assert meta["version"] == kehu_package.__version__
    assert [p["name"] for p in meta["plugins"]] == ["core"]
    assert meta["plugins"][0]["depends"] == []


async def test_graphiql_is_served_to_browsers(kehu, kehu_client):
    response = await kehu_client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_get_allows_queries_but_not_mutations(kehu, kehu_client, make_user):
    user = await make_user("admin")
    response = await kehu_client.get(
        "/graphql", params={"query": "{ me { username } }"}, headers=bearer(user.key)
    )
    assert response.status_code == 200
    assert response.json()["data"]["me"]["username"] == user.username
    response = await kehu_client.get(
        "/graphql",
        params={
            "query": 'mutation { createCustomer(input: {name: "Via GET"}) { customer { id } } }'
        },
        headers=bearer(user.key),
    )
    assert response.status_code == 400
    assert await Customer.count() == 0


async def test_rate_limit(kehu, make_user, monkeypatch):
    from kehu.api.app import create_app

    user = await make_user("admin")
    monkeypatch.setattr(kehu.settings, "rate_limit_per_minute", 3)
    app = create_app(kehu=kehu, lifespan=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        statuses = [
            (
                await client.post(
                    "/graphql", json={"query": "{ me { id } }"}, headers=bearer(user.key)
                )
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        assert (await client.get("/health")).status_code == 200  # never limited
