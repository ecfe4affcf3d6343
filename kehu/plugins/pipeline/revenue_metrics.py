"""Revenue and customer-value metrics of the pipeline for the reporting registry (won deals are
the purchases): won revenue by dimension."""

from piccolo.querystring import QueryString

from kehu.core.money import Money
from kehu.plugins.pipeline import services
from kehu.plugins.reporting.metrics import Metric, MetricQuery, MetricRow
from kehu.plugins.reporting.sql import Source, grouped

OPP = "pipeline_opportunity"
REVENUE_DIMS = {"owner": f"{OPP}.owner", "team": f"{OPP}.team", "pipeline": f"{OPP}.pipeline",
                "region": "core_customer.region", "industry": "core_customer.industry",
                "tier": "core_customer.tier", "source": "core_customer.source",
                "currency": f"{OPP}.currency"}
WON = Source(f"{OPP} JOIN core_customer ON core_customer.id = {OPP}.customer", REVENUE_DIMS,
             time_column=f"{OPP}.closed_at", labels=("owner", "team"))


async def revenue(q: MetricQuery) -> list[MetricRow]:
    """Won amount per group and currency (amounts are summed in minor units)."""
    dims = (*tuple(d for d in q.dimensions if d != "currency"), "currency")
    grouped_q = MetricQuery(q.actor, dims, q.filters, q.start, q.end, q.granularity)
    scope = services.opportunity_scope(q.actor)
    rows = await grouped(WON, grouped_q, f"SUM({OPP}.amount_minor)",
                         None if scope is None else scope.querystring,
                         [QueryString(f"{OPP}.status = 'won'")])
    out = []
    for row in rows:
        currency = row.dimensions.pop("currency")
        amount = Money(int(row.value), currency).amount
        if "currency" in q.dimensions:
            row.dimensions["currency"] = currency
        out.append(MetricRow(row.dimensions, amount, currency))
    return out


def revenue_metrics() -> list[Metric]:
    return [
        Metric("pipeline.revenue", "Won revenue",
               "Amount of deals won in the period (by close date), per currency.",
               "SUM(amount of won deals closed in [from, to))", "money",
               (*REVENUE_DIMS, "period"), revenue, chart="bar"),
    ]
