"""Plugin settings are validated at startup."""

import pytest
from pydantic import ValidationError

from kehu.plugins.tickets.settings import TicketsSettings


def test_defaults_follow_the_domain():
    s = TicketsSettings()
    assert {
        p: (t.first_response_minutes, t.resolution_minutes) for p, t in s.sla_targets.items()
    } == {"urgent": (60, 480), "high": (240, 1440), "normal": (480, 4320), "low": (1440, 7200)}
    assert s.calendar.timezone == "Asia/Shanghai" and "sat" not in s.calendar.weekly
    assert "repair_delay" in s.complaint_categories


@pytest.mark.parametrize(
    "bad",
    [
        {"sla_targets": {"urgent": {"first_response_minutes": 1, "resolution_minutes": 2}}},
        {"calendar": {"timezone": "Mars/Olympus"}},
        {"calendar": {"weekly": {"funday": ["09:00-18:00"]}}},
        {"calendar": {"weekly": {"mon": ["18:00-09:00"]}}},
        {"assignment": {"North": "random"}},
        {"churn_threshold": 0},
    ],
)
def test_invalid_settings_are_rejected(bad):
    with pytest.raises(ValidationError):
        TicketsSettings.model_validate(bad)
