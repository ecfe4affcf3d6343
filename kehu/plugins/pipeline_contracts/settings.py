"""The bridge's ``[plugin_settings.pipeline_contracts]`` model."""

from pydantic import BaseModel


class BridgeSettings(BaseModel):
    """``[plugin_settings.pipeline_contracts]``."""

    model_config = {"extra": "forbid"}
    draft_contract_on_won: bool = False  # draft one automatically when a deal is won
