"""Rate limiting is configurable and off by default."""

import httpx
import pytest

from kehu.api.app import create_app


@pytest.fixture
def kehu_settings_overrides() -> dict:
    return {"rate_limit_per_minute": 3}


async def test_requests_over_the_limit_get_429(kehu, make_user) -> None:
    user = await make_user("admin")
    app = create_app(kehu=kehu, lifespan=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        headers = {"Authorization": f"Bearer {user.key}"}
        codes = [
            (
                await client.post(
                    "/graphql", json={"query": "{ me { username } }"}, headers=headers
                )
            ).status_code
            for _ in range(5)
        ]
        health = await client.get("/health")
    assert codes[:3] == [200, 200, 200]
    assert codes[3:] == [429, 429]
    assert health.status_code == 200  # probes are never throttled
