"""The ``[plugin_settings.pipeline]`` section of ``kehu.toml`` (or ``KEHU_PLUGIN_SETTINGS``)."""

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_LOST_REASONS = [
    "low_channel_efficiency",  # 开发渠道效率低
    "single_communication_mode",  # 沟通方式单一
    "shallow_needs_discovery",  # 需求挖掘不深入
    "poorly_targeted_proposal",  # 方案针对性不强
    "weak_negotiation",  # 谈判技巧不足
    "customer_lost_at_closing",  # 成交阶段客户流失
    "slow_after_sales_response",  # 售后响应慢
    "price",
    "competitor",
    "other",
]

DEFAULT_LEAD_WEIGHTS = {
    # behaviour
    "visits": Decimal("0.2"),
    "downloads": Decimal("0.15"),
    "inquiries": Decimal("0.25"),
    # attributes
    "size": Decimal("0.2"),
    "industry": Decimal("0.2"),
}


class PipelineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_scoring_weights: dict[str, Decimal] = Field(
        default_factory=lambda: dict(DEFAULT_LEAD_WEIGHTS),
        description="Lead score = Σ weight × factor score (each factor scored 0..100).",
    )
    lead_hot_score: int = Field(60, ge=0, le=100, description="Score from which a lead is hot")
    lost_reasons: list[str] = Field(default_factory=lambda: list(DEFAULT_LOST_REASONS))
    default_currency: str = "CNY"
    default_stale_after_days: int = Field(14, ge=1)
    approval_threshold: Decimal = Field(
        Decimal("500000"),
        ge=0,
        description="Amount (major units, default currency) above which the "
        "linear_with_approval template requires Decision Approval",
    )
    forecast_snapshot_every_days: int = Field(7, ge=1)

    @field_validator("lead_scoring_weights")
    @classmethod
    def _weights(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if not value or any(w < 0 for w in value.values()):
            raise ValueError("weights must be non-empty and non-negative")
        return value

    @field_validator("lost_reasons")
    @classmethod
    def _reasons(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one lost reason is needed")
        return value
