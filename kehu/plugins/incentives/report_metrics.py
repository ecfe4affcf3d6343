"""Incentives metrics for the reporting plugin's registry (``kehu_report_metrics``; used only
when reporting is enabled): commission earned, by user, over the ledger lines whose source
date is in the queried range. Visibility: own lines unless ``commission:read_all``."""

from collections import defaultdict
from decimal import Decimal

from kehu.core.money import Money
from kehu.core.tables import User
from kehu.plugins.incentives.tables import CommissionLine
from kehu.plugins.reporting.metrics import Metric, MetricQuery, MetricRow


async def _commission(query: MetricQuery) -> list[MetricRow]:
    q = CommissionLine.select(CommissionLine.user, CommissionLine.amount_minor,
                              CommissionLine.currency)
    if query.start is not None:
        q = q.where(CommissionLine.source_date >= query.start.date())
    if query.end is not None:
        q = q.where(CommissionLine.source_date < query.end.date())
    if not query.actor.can("commission:read_all"):
        q = q.where(CommissionLine.user == query.actor.user_id)
    by_user = "owner" in query.dimensions
    sums: dict[tuple[str, str], int] = defaultdict(int)
    names = {u["id"]: u["username"] for u in await User.select(User.id, User.username)}
    for r in await q:
        sums[(names.get(r["user"], "") if by_user else "", r["currency"])] += r["amount_minor"]
    return [MetricRow({"owner": who} if by_user else {}, Money(v, cur).amount, cur)
            for (who, cur), v in sorted(sums.items())] or [MetricRow({}, Decimal(0))]


def report_metrics() -> list[Metric]:
    return [
        Metric("incentives.commission", "Commission earned 提成",
               "Commission ledger lines (commissions, adjustments, clawbacks, caps) by the "
               "date of their source event.",
               "SUM(commission_line.amount)", "money", ("owner",), _commission,
               plugin="incentives"),
    ]
