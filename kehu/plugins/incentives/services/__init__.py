"""Incentives business logic, split by concern: periods, targets and actuals, plans, the
commission ledger, other incentive events and scorecards. No HTTP or GraphQL here."""
