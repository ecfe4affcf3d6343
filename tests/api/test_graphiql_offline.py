"""GraphiQL works without the internet: the page loads its scripts and styles from Kehu."""

import base64
import hashlib
import re

import pytest


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core"]


async def test_graphiql_loads_everything_from_kehu(kehu_client):
    page = await kehu_client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert "unpkg.com" not in page.text and "https://" not in page.text.split("<script>")[0]
    assets = re.findall(r'(?:src|href)="(/graphiql/[^"]+)"\s+integrity="([^"]+)"', page.text)
    assert len(assets) == 7
    for path, integrity in assets:
        response = await kehu_client.get(path)
        assert response.status_code == 200, path
        digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()
        assert integrity == f"sha384-{digest}", path  # the browser would refuse anything else
        assert "max-age=86400" in response.headers["cache-control"]
    assert (await kehu_client.get("/graphiql/../app.py")).status_code == 404
