"""Lead scoring weights come from ``[plugin_settings.pipeline]``."""

import pytest

from kehu.plugins.pipeline import services


@pytest.fixture
def kehu_settings_overrides():
    return {
        "plugin_settings": {"pipeline": {"lead_scoring_weights": {"visits": "1.5", "size": "0.5"}}}
    }


async def test_configured_weights(kehu, system):
    lead = await services.create_lead(system, {"name": "A", "factors": {"visits": 10, "size": 3}})
    assert lead["score"] == 17  # 15 + 1.5 → 16.5 → 17
