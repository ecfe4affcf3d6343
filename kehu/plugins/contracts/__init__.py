"""Contracts and receivables (合同与回款): contract lifecycle, approvals, credit, payment
schedules, invoices, payments, aging, dunning, provisions and statements."""

__version__ = "0.1.0"
