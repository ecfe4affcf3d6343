"""The incentives plugin's hook implementations: the ``kehu`` entry point names this module.

Contracts' hooks are implemented with ``optionalhook=True``: without contracts, commissions
can only be based on won amounts. Contracts, tickets and the bridge implement the hooks
incentives publishes (``hookspecs.py``) to give it sources, participants and actuals.
GraphQL and click are imported inside the hooks.
"""

from datetime import date
from typing import Any

from kehu import Event, EventHook, EventType, PluginInfo, hookimpl, on_events
from kehu.core.money import Money
from kehu.plugins.incentives import __version__, hookspecs
from kehu.plugins.incentives.services import triggers
from kehu.plugins.incentives.settings import IncentivesSettings

NAME = "incentives"


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    return PluginInfo(
        NAME,
        __version__,
        "Targets, attainment, commission plans and ledger, incentives, scorecards",
        depends=("pipeline",),
    )


@hookimpl
def kehu_add_hookspecs(pm: Any) -> None:
    pm.add_hookspecs(hookspecs)


@hookimpl
def kehu_settings_model() -> type:
    return IncentivesSettings


@hookimpl
def kehu_piccolo_app() -> str:
    return "kehu.plugins.incentives.piccolo_app"


@hookimpl
def kehu_permissions() -> dict[str, set[str]]:
    return {
        "incentive:read": {"admin", "manager", "sales", "support", "finance"},
        "incentive:manage": {"admin", "manager"},
        "incentive:propose": {"admin", "manager"},
        "incentive:approve": {"admin", "manager"},
        "commission:read": {"admin", "manager", "sales", "support", "finance"},
        "commission:read_all": {"admin", "manager", "finance"},
        "commission:payout": {"admin", "finance"},
    }


@hookimpl
def kehu_graphql_types() -> list[type]:
    from kehu.plugins.incentives.graphql.schema import NODE_TYPES

    return NODE_TYPES


@hookimpl
def kehu_graphql_queries() -> list[type]:
    from kehu.plugins.incentives.graphql.schema import QUERIES

    return QUERIES


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu.plugins.incentives.graphql.schema import MUTATIONS

    return MUTATIONS


@hookimpl
def kehu_cli_commands() -> list[Any]:
    from kehu.plugins.incentives.cli import incentives

    return [incentives]


@hookimpl
async def kehu_demo_data(actor: Any, users: dict[str, Any]) -> None:
    from kehu.plugins.incentives.demo import load_demo_data

    await load_demo_data(actor, users)


@hookimpl(optionalhook=True)
def kehu_report_metrics() -> list[Any]:
    """Target attainment and commission metrics for the reporting plugin (if enabled)."""
    from kehu.plugins.incentives.report_metrics import report_metrics

    return report_metrics()


@hookimpl(optionalhook=True)
async def kehu_opportunity_won(
    opportunity_id: int, customer_id: int, amount: Any, owner_id: int | None
) -> None:
    await triggers.on_won(opportunity_id)


@hookimpl(optionalhook=True)
async def kehu_opportunity_stage_changed(
    opportunity_id: int,
    customer_id: int,
    from_stage: str | None,
    to_stage: str,
    actor_id: int | None,
) -> None:
    if from_stage is not None:
        await triggers.on_reopened(opportunity_id, from_stage)


@hookimpl(optionalhook=True)
async def kehu_invoice_issued(issued_on: date) -> None:
    await triggers.on_money(issued_on)


@hookimpl(optionalhook=True)
async def kehu_payment_received(received_on: date) -> None:
    await triggers.on_money(received_on)


@hookimpl(optionalhook=True)
async def kehu_payment_allocated(applied_on: date | None) -> None:
    await triggers.on_money(applied_on)


@hookimpl(optionalhook=True)
async def kehu_refund_issued(issued_on: date) -> None:
    await triggers.on_money(issued_on)


@hookimpl
@on_events("credit.credit_note")
async def kehu_event(event: Event) -> None:
    """Credit notes (no contracts hook) trigger recomputation."""
    if event.name == "credit.credit_note" and event.data.get("issued_on"):
        await triggers.on_money(date.fromisoformat(str(event.data["issued_on"])))


@hookimpl
def kehu_event_types() -> list[EventType]:
    from kehu.plugins.incentives.event_types import INCENTIVES_EVENTS

    return INCENTIVES_EVENTS


@hookimpl
def kehu_event_hooks() -> list[EventHook]:
    """Payout runs and approvals, published as ``kehu_commission_period_locked`` and
    ``kehu_incentive_approved``."""

    def locked(e: Event) -> dict[str, Any]:
        d = e.data
        total = Money(int(d["total_minor"]), d["currency"]) if d.get("currency") else None
        return {"period": d["period"], "total": total, "lines": int(d["lines"])}

    def approved(e: Event) -> dict[str, Any] | None:
        if e.entity_id is None:
            return None
        d = e.data
        amount = (
            Money(int(d["amount_minor"]), d["currency"])
            if d.get("amount_minor") is not None
            else None
        )
        return {
            "event_id": e.entity_id,
            "user_id": d["user"],
            "kind": d["kind"],
            "subtype": d["subtype"],
            "amount": amount,
            "period": d["period"],
        }

    return [
        EventHook("commission_period.paid_out", "kehu_commission_period_locked", locked),
        EventHook("incentive_event.approved", "kehu_incentive_approved", approved),
    ]
