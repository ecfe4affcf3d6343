"""The ``[plugin_settings.tickets]`` section of ``kehu.toml`` (or ``KEHU_PLUGIN_SETTINGS``)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_TARGETS = {
    "urgent": (60, 8 * 60),
    "high": (4 * 60, 24 * 60),
    "normal": (8 * 60, 72 * 60),
    "low": (24 * 60, 120 * 60),
}
DEFAULT_CATEGORIES = [
    "price_confusion",
    "problem_unresolved",
    "slow_response",
    "unwanted_marketing",
    "event_confirmation_late",
    "repair_delay",
]


class SlaTarget(BaseModel):
    """Business minutes to the first public reply and to resolution."""

    model_config = ConfigDict(extra="forbid")
    first_response_minutes: int = Field(ge=1)
    resolution_minutes: int = Field(ge=1)


class CalendarSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: str = "Asia/Shanghai"
    weekly: dict[str, list[str]] = Field(
        default_factory=lambda: {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    holidays: list[str] = Field(default_factory=list, description="ISO dates off work")
    workdays: dict[str, list[str]] = Field(
        default_factory=dict, description="Make-up working days (调休): ISO date → hours"
    )


class TicketsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sla_targets: dict[str, SlaTarget] = Field(
        default_factory=lambda: {
            p: SlaTarget(first_response_minutes=f, resolution_minutes=r)
            for p, (f, r) in DEFAULT_TARGETS.items()
        },
        description="Default policy targets per priority (a policy row overrides them)",
    )
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    policy_calendars: dict[str, CalendarSettings] = Field(
        default_factory=dict,
        description="Policy name → its own calendar (e.g. a 24×7 VIP policy); others use "
        "`calendar`",
    )
    complaint_categories: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    assignment: dict[str, Literal["round_robin", "least_open", "manual"]] = Field(
        default_factory=dict, description="Team name → auto-assignment strategy"
    )
    default_assignment: Literal["round_robin", "least_open", "manual"] = "least_open"
    reminder_lead_minutes: int = Field(30, ge=0, description="Remind this long before breach")
    reassign_on_breach: bool = False
    sla_check_every_minutes: int = Field(5, ge=1)
    survey_on_close: list[Literal["csat", "nps"]] = Field(default_factory=lambda: ["csat"])
    survey_on_deal_won: list[Literal["csat", "nps"]] = Field(
        default_factory=lambda: ["nps"],
        description="Surveys sent when the pipeline plugin reports a won deal",
    )
    survey_valid_days: int = Field(30, ge=1)
    churn_threshold: int = Field(60, ge=1, le=100)
    churn_set_declining: bool = True
    churn_check_every_hours: int = Field(24, ge=1)

    @field_validator("sla_targets")
    @classmethod
    def _all_priorities(cls, value: dict[str, SlaTarget]) -> dict[str, SlaTarget]:
        missing = set(DEFAULT_TARGETS) - set(value)
        unknown = set(value) - set(DEFAULT_TARGETS)
        if missing or unknown:
            raise ValueError(f"sla_targets needs exactly {', '.join(DEFAULT_TARGETS)}")
        return value

    @field_validator("calendar")
    @classmethod
    def _valid_calendar(cls, value: CalendarSettings) -> CalendarSettings:
        _check_calendar(value)
        return value

    @field_validator("policy_calendars")
    @classmethod
    def _valid_policy_calendars(
        cls, value: dict[str, CalendarSettings]
    ) -> dict[str, CalendarSettings]:
        for calendar in value.values():
            _check_calendar(calendar)
        return value


def _check_calendar(value: CalendarSettings) -> None:
    from kehu.plugins.tickets.services.clocks import BusinessCalendar

    try:
        BusinessCalendar.from_config(value.timezone, value.weekly, value.holidays, value.workdays)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"Invalid business calendar: {exc}") from None
