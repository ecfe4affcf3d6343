"""Service tickets: complaints, SLA clocks, escalation, satisfaction, churn warning."""
