"""What contracts tells other plugins through the hooks they publish, when they are enabled:
tickets (``tickets.py``: SLA entitlements and churn signals) and incentives
(``incentives.py``: commission sources and actuals). Each module reads contracts' own tables
and imports only the other plugin's ``hookspecs``."""
