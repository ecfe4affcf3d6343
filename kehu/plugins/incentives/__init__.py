"""Incentives: targets, attainment, commission plans and ledger, other incentives, scorecards."""

__version__ = "0.1.0"
