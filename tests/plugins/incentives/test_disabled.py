"""The plugin with and without contracts: the schema, metrics and bases follow the enabled
plugins; without incentives nothing of it is in the schema."""

from datetime import date

import pytest

from kehu.core.errors import ValidationFailed
from kehu.plugins.incentives.services import plans
from kehu.plugins.incentives.services.actuals import available_metrics

SDL_FIELDS = ("incentiveLeaderboard", "commissionStatement", "recomputeCommissions")


@pytest.fixture
def kehu_plugins(request):
    return request.param


@pytest.mark.parametrize("kehu_plugins", [["core", "pipeline"]], indirect=True)
async def test_without_incentives_nothing_is_added(kehu):
    sdl = kehu.graphql().schema.as_str()
    assert not any(f in sdl for f in SDL_FIELDS)


@pytest.mark.parametrize("kehu_plugins", [["core", "pipeline", "incentives"]], indirect=True)
async def test_without_contracts_only_won_basis(kehu, system):
    assert "collected_amount" not in available_metrics()
    with pytest.raises(ValidationFailed) as exc:
        await plans.create_plan(
            system,
            {"name": "C", "basis": "collected", "rate": "0.1", "effective_from": date.today()},
        )
    assert exc.value.errors[0].code == "PLUGIN_DISABLED"


@pytest.mark.parametrize(
    "kehu_plugins", [["core", "pipeline", "contracts", "incentives"]], indirect=True
)
async def test_with_contracts_all_bases(kehu, system):
    assert {"invoiced_amount", "collected_amount", "collection_rate"} <= set(available_metrics())
    row = await plans.create_plan(
        system, {"name": "C", "basis": "collected", "rate": "0.1", "effective_from": date.today()}
    )
    assert row["basis"] == "collected"
    sdl = kehu.graphql().schema.as_str()
    assert all(f in sdl for f in SDL_FIELDS)
