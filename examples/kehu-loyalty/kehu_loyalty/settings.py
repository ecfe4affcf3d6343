"""The ``[plugin_settings.loyalty]`` section of ``kehu.toml`` (or ``KEHU_PLUGIN_SETTINGS``)."""

from pydantic import BaseModel, ConfigDict, Field


class LoyaltySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points_per_activity: int = Field(
        1, ge=0, description="Points awarded for each logged activity (0 = off)"
    )
    expire_after_days: int = Field(
        365, ge=0, description="Awarded points expire after this many days (0 = never)"
    )
    max_points_per_transaction: int = Field(100_000, ge=1)
