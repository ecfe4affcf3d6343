"""Service tickets: complaints, SLA clocks, escalation, satisfaction, churn warning."""

__version__ = "0.1.0"
