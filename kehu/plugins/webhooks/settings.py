"""The ``[plugin_settings.webhooks]`` section of ``kehu.toml`` (or ``KEHU_PLUGIN_SETTINGS``)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Svix's schedule: a delivery is retried for about 27 hours before it is dead-lettered.
DEFAULT_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000]


class WebhooksSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allow_private: bool = Field(
        False, description="Allow loopback, private and link-local addresses (development)"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts, IP addresses or networks (CIDR) allowed even when private, e.g. "
        '["127.0.0.1"] for a receiver on this machine',
    )
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="Whole request, per attempt")
    connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    max_response_bytes: int = Field(65536, ge=0, description="Read at most this much")
    retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: list(DEFAULT_SCHEDULE),
        min_length=1,
        description="Delay before each retry (with up to 20% jitter); then dead-lettered",
    )
    max_pause_seconds: float = Field(
        60.0, gt=0, description="Longest pause of new deliveries to a failing endpoint"
    )
    disable_after_hours: float = Field(
        24.0, gt=0, description="An endpoint failing this long is disabled, its owner told"
    )
    secret_grace_hours: float = Field(
        24.0, ge=0, description="The old secret keeps signing this long after a rotation"
    )
    max_concurrent: int = Field(16, ge=1, description="Requests in flight per process")

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """``KEHU_PLUGIN_SETTINGS__WEBHOOKS__ALLOWED_HOSTS=127.0.0.1,localhost`` too."""
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value
