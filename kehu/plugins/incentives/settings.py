"""The ``[plugin_settings.incentives]`` section of ``kehu.toml``."""

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class IncentivesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settlement_period: str = Field(
        "quarter",
        pattern="^(month|quarter)$",
        description="Granularity of commission periods, statements and payout runs.",
    )
    currency: str = Field(
        "CNY",
        pattern="^[A-Z]{3}$",
        description="Currency of leaderboards and scorecards (money is never converted).",
    )
    auto_recompute: bool = Field(
        True, description="Recompute the affected period when a deal is won or money moves."
    )
    scorecard_weights: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "won_revenue": Decimal("0.4"),
            "conversion_rate": Decimal("0.2"),
            "collection_rate": Decimal("0.2"),
            "csat": Decimal("0.2"),
            "first_response_hours": Decimal("0.1"),
            "resolution_hours": Decimal("0.1"),
        },
        description="Scorecard weights per metric; metrics of disabled plugins are dropped "
        "and the remaining weights renormalised.",
    )
