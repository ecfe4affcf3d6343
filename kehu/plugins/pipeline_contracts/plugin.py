"""Hooks of the pipeline ↔ contracts bridge (auto-enabled with both plugins)."""

import logging
from typing import Any

from kehu import EventType, PluginInfo, __version__, hookimpl

NAME = "pipeline_contracts"
log = logging.getLogger("kehu.pipeline_contracts")


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    return PluginInfo(
        NAME,
        __version__,
        "Won opportunities draft contracts; contracts show their source opportunity",
        depends=("pipeline", "contracts"),
        auto_enable_with=("pipeline", "contracts"),
    )


@hookimpl
def kehu_settings_model() -> type:
    from kehu.plugins.pipeline_contracts.settings import BridgeSettings

    return BridgeSettings


@hookimpl
def kehu_piccolo_app() -> str:
    return "kehu.plugins.pipeline_contracts.piccolo_app"


@hookimpl
def kehu_event_types() -> list[EventType]:
    from kehu.plugins.pipeline_contracts.event_types import BRIDGE_EVENTS

    return BRIDGE_EVENTS


@hookimpl
def kehu_graphql_type_extensions() -> dict[str, list[type]]:
    from kehu.plugins.pipeline_contracts.graphql.schema import TYPE_EXTENSIONS

    return TYPE_EXTENSIONS


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu.plugins.pipeline_contracts.graphql.schema import MUTATIONS

    return MUTATIONS


@hookimpl
def kehu_graphql_dataloaders() -> dict[str, Any]:
    from kehu.plugins.pipeline_contracts.graphql.schema import LOADERS

    return LOADERS


@hookimpl
async def kehu_opportunity_won(opportunity_id: int) -> None:
    """Optionally draft the contract as soon as the deal is won (as the system). Once per
    opportunity: a redelivered event, or two deliveries at once, find the contract drafted
    (by hand or by the first delivery) and do nothing."""
    from kehu.core.errors import ValidationFailed
    from kehu.core.permissions import system_actor
    from kehu.plugins.pipeline_contracts import services

    if services.settings().draft_contract_on_won:
        try:
            await services.draft_contract_on_won(system_actor(), opportunity_id)
        except ValidationFailed as exc:  # the deal cannot become a contract as it stands
            log.warning("No contract drafted for won opportunity %s: %s", opportunity_id, exc)


@hookimpl(optionalhook=True)
async def kehu_commission_participants(contract_ids: list[int]) -> dict[int, Any]:
    """The opportunity team of each contract, for incentives' commission splits (if enabled)."""
    from kehu.plugins.pipeline_contracts.integrations import commission_participants

    return await commission_participants(contract_ids)
