"""Receivables metrics for the reporting plugin's registry (``kehu_report_metrics``; only
used when reporting is enabled). Each wraps a service function of
:mod:`kehu.plugins.contracts.receivables` (SQL aggregates with the actor's visibility) in the
plugin's default currency; they are not grouped by dimensions."""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kehu.plugins.contracts import receivables
from kehu.plugins.contracts.services import config, today
from kehu.plugins.reporting.metrics import Metric, MetricQuery, MetricRow

CENT = Decimal("0.01")


def _period(query: MetricQuery) -> tuple[date, date]:
    """``[start, end)`` as inclusive dates (default: the last 30 days)."""
    end = (query.end - timedelta(microseconds=1)).date() if query.end else today()
    start = query.start.date() if query.start else end - timedelta(days=29)
    return start, end


def _percent(value: Decimal | None) -> list[MetricRow]:
    if value is None:
        return []
    return [MetricRow({}, (value * 100).quantize(CENT, rounding=ROUND_HALF_UP))]


async def _collection_rate(query: MetricQuery) -> list[MetricRow]:
    start, end = _period(query)
    rate = await receivables.collection_rate(query.actor, start, end)
    return _percent(rate.rate)


async def _signing_rate(query: MetricQuery) -> list[MetricRow]:
    start, end = _period(query)
    return _percent((await receivables.signing_rate(query.actor, start, end)).rate)


async def _dso(query: MetricQuery) -> list[MetricRow]:
    start, end = _period(query)
    value = await receivables.dso(query.actor, start, end)
    return [] if value is None else [MetricRow({}, value)]


def _money(fn: Any) -> Any:
    async def compute(query: MetricQuery) -> list[MetricRow]:
        as_of = (query.end - timedelta(microseconds=1)).date() if query.end else today()
        amount = await fn(query.actor, as_of, config().default_currency)
        return [MetricRow({}, amount.amount, amount.currency)]

    return compute


def report_metrics() -> list[Metric]:
    return [
        Metric(
            "contracts.collection_rate",
            "Collection rate 回款率",
            "Collected on installments due in the period / their amount",
            "100 × Σ allocated (by period end) / Σ installments due in the period",
            "percent",
            (),
            _collection_rate,
        ),
        Metric(
            "contracts.signing_rate",
            "Contract signing rate",
            "Contracts signed / contracts submitted for approval in the period",
            "100 × signed / submitted",
            "percent",
            (),
            _signing_rate,
        ),
        Metric(
            "contracts.dso",
            "DSO",
            "Days sales outstanding",
            "open receivables at period end / invoiced in the period × days",
            "days",
            (),
            _dso,
        ),
        Metric(
            "contracts.overdue_amount",
            "Overdue receivables",
            "Open amount past due at the end of the period",
            "Σ open, due date < end",
            "money",
            (),
            _money(receivables.overdue_amount),
            time_based=False,
        ),
        Metric(
            "contracts.open_receivables",
            "Open receivables",
            "Open amount of signed contracts' installments at the end of the period",
            "Σ amount − paid − credited",
            "money",
            (),
            _money(receivables.open_amount),
            time_based=False,
        ),
    ]
