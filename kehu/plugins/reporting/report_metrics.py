"""Reporting's own metrics, over core data: customers and activities. Built like any plugin's
``report_metrics.py``, from the published ``hookspecs`` only."""

from piccolo.querystring import QueryString

from kehu.core.services.customers import customer_scope
from kehu.plugins.reporting.hookspecs import Metric, MetricQuery, MetricRow, Source, grouped

C = "core_customer"
CUSTOMER_DIMS = {
    "tier": f"{C}.tier",
    "lifecycle_stage": f"{C}.lifecycle_stage",
    "region": f"{C}.region",
    "industry": f"{C}.industry",
    "source": f"{C}.source",
    "kind": f"{C}.kind",
    "owner": f"{C}.owner",
    "team": f"{C}.team",
}
CUSTOMERS = Source(C, CUSTOMER_DIMS, time_column=f"{C}.created_at", labels=("owner", "team"))
ACTIVITIES = Source(
    "core_activity a JOIN core_customer ON core_customer.id = a.customer",
    {
        "kind": "a.kind",
        "status": "a.status",
        "owner": "a.owner",
        "team": f"{C}.team",
        "tier": f"{C}.tier",
        "region": f"{C}.region",
    },
    time_column="a.occurred_at",
    labels=("owner", "team"),
)


def _scope(query: MetricQuery) -> QueryString | None:
    where = customer_scope(query.actor)
    return None if where is None else where.querystring


async def _active_customers(query: MetricQuery) -> list[MetricRow]:
    snapshot = MetricQuery(
        query.actor, query.dimensions, query.filters, granularity=query.granularity
    )  # a distribution "now"
    return await grouped(
        CUSTOMERS, snapshot, "COUNT(*)", _scope(query), [QueryString(f"{C}.archived_at IS NULL")]
    )


async def _new_customers(query: MetricQuery) -> list[MetricRow]:
    return await grouped(CUSTOMERS, query, "COUNT(*)", _scope(query))


async def _activities(query: MetricQuery) -> list[MetricRow]:
    return await grouped(
        ACTIVITIES, query, "COUNT(*)", _scope(query), [QueryString("a.status = 'done'")]
    )


def report_metrics() -> list[Metric]:
    dims = tuple(CUSTOMER_DIMS)
    return [
        Metric(
            "customers.active",
            "Active customers",
            "Customers not archived, now: tier, lifecycle and regional distribution.",
            "COUNT(customers WHERE NOT archived)",
            "count",
            dims,
            _active_customers,
            time_based=False,
        ),
        Metric(
            "customers.new",
            "New customers",
            "Customers created in the period (by created_at).",
            "COUNT(customers created in [from, to))",
            "count",
            (*dims, "period"),
            _new_customers,
            chart="line",
        ),
        Metric(
            "activities.done",
            "Activities",
            "Interactions logged (calls, visits, e-mails...) by when they happened.",
            "COUNT(activities WHERE status = done, occurred in [from, to))",
            "count",
            (*ACTIVITIES.dimensions, "period"),
            _activities,
            chart="line",
        ),
    ]
