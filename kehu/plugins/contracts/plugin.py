"""The contracts plugin's hook implementations: the ``kehu`` entry point names this module.

GraphQL and click modules are imported inside the hooks that need them, so loading the plugin
for a migration, a job or the CLI stays cheap.
"""

from datetime import date, timedelta
from typing import Any

from kehu import Event, EventHook, EventType, Job, PluginInfo, hookimpl, on_events
from kehu.core.money import Money
from kehu.core.permissions import EVERYONE
from kehu.plugins.contracts import __version__, hookspecs, services
from kehu.plugins.contracts.settings import ContractsSettings

NAME = "contracts"


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    return PluginInfo(
        NAME,
        __version__,
        "Contracts and receivables: lifecycle, approvals, credit, payments, aging, dunning",
    )


@hookimpl
def kehu_add_hookspecs(pm: Any) -> None:
    pm.add_hookspecs(hookspecs)


@hookimpl
def kehu_settings_model() -> type:
    return ContractsSettings


@hookimpl
def kehu_piccolo_app() -> str:
    return "kehu.plugins.contracts.piccolo_app"


@hookimpl
def kehu_permissions() -> dict[str, set[str]]:
    return {
        "contract:read": EVERYONE,
        "contract:write": {"admin", "manager", "sales"},
        "contract:assign": {"admin", "manager"},
        "contract:approve": {"admin", "manager", "finance"},
        "contract:sign": {"admin", "manager", "sales", "finance"},
        "credit:read": {"admin", "manager", "sales", "finance"},
        "credit:manage": {"admin", "finance"},
        "credit:override": {"admin", "finance"},
        "invoice:write": {"admin", "finance"},
        "payment:write": {"admin", "finance"},
        "receivable:read": {"admin", "manager", "sales", "finance"},
        "receivable:dunning": {"admin"},
    }


@hookimpl
def kehu_graphql_type_extensions() -> dict[str, list[type]]:
    from kehu.plugins.contracts.graphql.schema import TYPE_EXTENSIONS

    return TYPE_EXTENSIONS


@hookimpl
def kehu_graphql_types() -> list[type]:
    from kehu.plugins.contracts.graphql.schema import NODE_TYPES

    return NODE_TYPES


@hookimpl
def kehu_graphql_queries() -> list[type]:
    from kehu.plugins.contracts.graphql.schema import QUERIES

    return QUERIES


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu.plugins.contracts.graphql.schema import MUTATIONS

    return MUTATIONS


@hookimpl
def kehu_graphql_dataloaders() -> dict[str, Any]:
    from kehu.plugins.contracts.graphql.schema import LOADERS

    return LOADERS


@hookimpl
def kehu_cli_commands() -> list[Any]:
    from kehu.plugins.contracts.cli import contracts

    return [contracts]


@hookimpl(optionalhook=True)
async def kehu_commission_sources(basis: str, period: Any) -> list[Any]:
    """Invoiced and collected commission sources for the incentives plugin (if enabled)."""
    from kehu.plugins.contracts.integrations.incentives import commission_sources

    return await commission_sources(basis, period)


@hookimpl(optionalhook=True)
async def kehu_incentive_actuals(metric: str, period: Any, group: str, currency: str) -> Any:
    """Invoiced and collected amounts for incentives' targets (if enabled)."""
    from kehu.plugins.contracts.integrations.incentives import incentive_actuals

    return await incentive_actuals(metric, period, group, currency)


@hookimpl(optionalhook=True)
def kehu_report_metrics() -> list[Any]:
    """Receivables metrics for the reporting plugin (if enabled)."""
    from kehu.plugins.contracts.report_metrics import report_metrics

    return report_metrics()


@hookimpl
def kehu_jobs() -> list[Job]:
    return [
        Job(
            "contracts.dunning",
            services.dunning_job,
            every=timedelta(days=1),
            description="Dunning ladder: reminders, collection and legal steps as activities",
        )
    ]


@hookimpl
def kehu_event_hooks() -> list[EventHook]:
    """The published ``kehu_contract_*``/``kehu_invoice_*``/``kehu_payment_*`` hooks."""

    def _money(data: dict[str, Any], key: str = "amount_minor") -> Money:
        return Money(int(data[key]), data["currency"])

    def _day(value: Any) -> date:  # events carry ISO dates
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    def signed(e: Event) -> dict[str, Any] | None:
        if e.data.get("status") != "signed":
            return None
        d = e.data
        return {
            "contract_id": e.entity_id,
            "customer_id": d["customer"],
            "number": d["number"],
            "total": _money(d, "total_minor"),
        }

    def issued(e: Event) -> dict[str, Any]:
        d = e.data
        return {
            "invoice_id": e.entity_id,
            "contract_id": d["contract"],
            "customer_id": d["customer"],
            "amount": _money(d),
            "issued_on": _day(d["issued_on"]),
        }

    def received(e: Event) -> dict[str, Any]:
        d = e.data
        return {
            "payment_id": e.entity_id,
            "customer_id": d["customer"],
            "amount": _money(d),
            "method": d["method"],
            "received_on": _day(d["received_on"]),
        }

    def allocated(e: Event) -> dict[str, Any]:
        d = e.data
        return {
            "payment_id": e.entity_id,
            "installment_id": d["installment"],
            "contract_id": d["contract"],
            "customer_id": d["customer"],
            "amount": _money(d),
            "applied_on": _day(d["applied_on"]) if d.get("applied_on") else None,
        }

    def refunded(e: Event) -> dict[str, Any]:
        return {
            "payment_id": e.entity_id,
            "customer_id": e.data["customer"],
            "amount": _money(e.data),
            "issued_on": _day(e.data["issued_on"]),
        }

    def overdue(e: Event) -> dict[str, Any] | None:
        d = e.data
        if d.get("days_overdue", 0) <= 0:
            return None
        return {
            "installment_id": e.entity_id,
            "customer_id": d["customer"],
            "step": d["step"],
            "days_overdue": d["days_overdue"],
            "open_amount": _money(d, "open_minor"),
        }

    return [
        EventHook("contract.transitioned", "kehu_contract_signed", signed),
        EventHook("invoice.issued", "kehu_invoice_issued", issued),
        EventHook("payment.received", "kehu_payment_received", received),
        EventHook("payment.allocated", "kehu_payment_allocated", allocated),
        EventHook("payment.refunded", "kehu_refund_issued", refunded),
        EventHook("installment.dunned", "kehu_receivable_overdue", overdue),
    ]


@hookimpl
@on_events("installment.dunned", "contract_approval.approved", "contract.transitioned")
async def kehu_event(event: Event) -> None:
    """E-mail notifications for this plugin's events (queued once per event and recipient)."""
    from kehu.plugins.contracts.notifications import on_event

    await on_event(event)


@hookimpl
def kehu_mail_templates() -> list[Any]:
    from kehu.plugins.contracts.notifications import TEMPLATES

    return TEMPLATES


@hookimpl
def kehu_event_types() -> list[EventType]:
    from kehu.plugins.contracts.event_types import CONTRACTS_EVENTS

    return CONTRACTS_EVENTS


@hookimpl
async def kehu_timeline_entries(customer_id: int, before: Any, limit: int) -> list[Any]:
    from kehu.plugins.contracts.timeline import timeline_entries

    return await timeline_entries(customer_id, before, limit)


@hookimpl
async def kehu_customers_merged(actor: Any, survivor_id: int, merged_id: int) -> None:
    await services.merge_customers(actor, survivor_id, merged_id)


@hookimpl
async def kehu_customers_reassigned(
    actor: Any, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> None:
    await services.reassign_contracts(actor, customer_ids, from_user_id, to_user_id)


@hookimpl
async def kehu_demo_data(actor: Any, users: dict[str, Any]) -> None:
    from kehu.plugins.contracts.demo import load_demo_data

    await load_demo_data(actor, users)


@hookimpl(optionalhook=True)
async def kehu_ticket_sla_policy(customer_ids: list[int]) -> dict[int, str]:
    """Tickets (when enabled): a signed contract's ``sla_policy`` entitles its customer."""
    from kehu.plugins.contracts.integrations.tickets import sla_policies

    return await sla_policies(customer_ids)


@hookimpl(optionalhook=True)
async def kehu_churn_signals(customer_ids: list[int], now: Any) -> list[Any]:
    """Tickets' churn warning (when enabled): overdue receivables and renewals due."""
    from kehu.plugins.contracts.integrations.tickets import churn_signals

    return await churn_signals(customer_ids, now)
