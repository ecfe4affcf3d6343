"""Rate limiting: on by default, per API key, counted in the database so that every worker
shares the count; 429 with Retry-After and a RATE_LIMITED code."""

import httpx
import pytest

from kehu.api.app import create_app
from kehu.core.settings import Settings


@pytest.fixture
def kehu_settings_overrides() -> dict:
    return {"rate_limit_per_minute": 3}


def client_for(kehu) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(kehu=kehu, lifespan=False))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def me(client, key: str) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": "{ me { username } }"},
        headers={"Authorization": f"Bearer {key}"},
    )


def test_rate_limiting_is_on_by_default():
    assert Settings(_env_file=None).rate_limit_per_minute == 3000


async def test_requests_over_the_limit_get_429_with_retry_after(kehu, make_user) -> None:
    user = await make_user("admin")
    async with client_for(kehu) as client:
        answers = [await me(client, user.key) for _ in range(5)]
        health = await client.get("/health")
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    refused = answers[3]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert health.status_code == 200  # probes are never throttled


async def test_the_limit_is_per_api_key_and_shared_by_workers(kehu, make_user) -> None:
    ann, bob = await make_user("admin"), await make_user("admin")
    async with client_for(kehu) as first, client_for(kehu) as second:  # two "workers"
        codes = [(await me(c, ann.key)).status_code for c in (first, second, first, second)]
        other = await me(second, bob.key)
    assert codes == [200, 200, 200, 429]
    assert other.status_code == 200
