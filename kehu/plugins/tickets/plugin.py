"""The tickets plugin's hook implementations: the ``kehu`` entry point names this module.

GraphQL, Litestar and click modules are imported inside the hooks that need them, so loading
the plugin for a migration, a job or the CLI stays cheap.
"""

from datetime import datetime, timedelta
from typing import Any

from kehu import Event, EventType, Job, PluginInfo, hookimpl, on_events
from kehu.core.permissions import EVERYONE
from kehu.plugins.tickets import __version__, hookspecs

NAME = "tickets"


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    return PluginInfo(
        NAME, __version__, "Service tickets: complaints, SLA, escalation, satisfaction, churn"
    )


@hookimpl
def kehu_add_hookspecs(pm: Any) -> None:
    pm.add_hookspecs(hookspecs)


@hookimpl
def kehu_settings_model() -> type:
    from kehu.plugins.tickets.settings import TicketsSettings

    return TicketsSettings


@hookimpl
def kehu_piccolo_app() -> str:
    return "kehu.plugins.tickets.piccolo_app"


@hookimpl
def kehu_permissions() -> dict[str, set[str]]:
    agents = {"admin", "manager", "sales", "support"}
    return {
        "ticket:read": EVERYONE,
        "ticket:write": agents,
        "ticket:assign": {"admin", "manager"},
        "ticket:sla": {"admin", "manager"},
        "survey:create": agents,
    }


@hookimpl
@on_events(
    "ticket_survey.created",
    "ticket.sla_reminder",
    "ticket.sla_breach",
    "customer.churn_alert_raised",
)
async def kehu_event(event: Event) -> None:
    """E-mail notifications for this plugin's events (queued once per event and recipient)."""
    from kehu.plugins.tickets.notifications import on_event

    await on_event(event)


@hookimpl
def kehu_mail_templates() -> list[Any]:
    from kehu.plugins.tickets.notifications import TEMPLATES

    return TEMPLATES


@hookimpl
def kehu_event_types() -> list[EventType]:
    from kehu.plugins.tickets.event_types import TICKETS_EVENTS

    return TICKETS_EVENTS


@hookimpl
def kehu_graphql_type_extensions() -> dict[str, list[type]]:
    from kehu.plugins.tickets.graphql.schema import TYPE_EXTENSIONS

    return TYPE_EXTENSIONS


@hookimpl
def kehu_graphql_types() -> list[type]:
    from kehu.plugins.tickets.graphql.schema import NODE_TYPES

    return NODE_TYPES


@hookimpl
def kehu_graphql_queries() -> list[type]:
    from kehu.plugins.tickets.graphql.schema import QUERIES

    return QUERIES


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu.plugins.tickets.graphql.schema import MUTATIONS

    return MUTATIONS


@hookimpl
def kehu_graphql_dataloaders() -> dict[str, Any]:
    from kehu.plugins.tickets.graphql.schema import LOADERS

    return LOADERS


@hookimpl
def kehu_route_handlers() -> list[Any]:
    from kehu.plugins.tickets.routes import ROUTES

    return ROUTES


@hookimpl
def kehu_cli_commands() -> list[Any]:
    from kehu.plugins.tickets.cli import tickets

    return [tickets]


@hookimpl
def kehu_jobs() -> list[Job]:
    from kehu.core.context import current
    from kehu.plugins.tickets.services.churn import churn_check_job
    from kehu.plugins.tickets.services.escalation import sla_check_job

    settings = current().plugin_settings(NAME)
    return [
        Job(
            "tickets.sla_check",
            sla_check_job,
            every=timedelta(minutes=settings.sla_check_every_minutes),
            description="SLA reminders before breach and escalation to the team supervisor",
        ),
        Job(
            "tickets.churn_check",
            churn_check_job,
            every=timedelta(hours=settings.churn_check_every_hours),
            description="Churn risk alerts for account managers",
        ),
    ]


@hookimpl
async def kehu_churn_signals(customer_ids: list[int], now: datetime) -> list[Any]:
    from kehu.plugins.tickets.services import churn

    return await churn.ticket_signals(customer_ids, now)


@hookimpl(optionalhook=True)
def kehu_report_metrics() -> list[Any]:
    """Ticket and satisfaction metrics for the reporting plugin (if enabled)."""
    from kehu.plugins.tickets.report_metrics import report_metrics

    return report_metrics()


@hookimpl(optionalhook=True)
async def kehu_opportunity_won(opportunity_id: int, customer_id: int) -> None:
    """Pipeline (if enabled) reports a won deal: send the ``survey_on_deal_won`` surveys,
    one of each kind per opportunity (a redelivered event, or the deal won again after a
    reopening, sends none)."""
    from kehu.core.context import current
    from kehu.core.permissions import system_actor
    from kehu.plugins.tickets.services import surveys

    for kind in current().plugin_settings(NAME).survey_on_deal_won:
        await surveys.create_related_survey(
            system_actor(),
            customer_id,
            kind,
            related_type="opportunity",
            related_id=opportunity_id,
            check_visibility=False,
        )


@hookimpl
async def kehu_timeline_entries(customer_id: int, before: Any, limit: int) -> list[Any]:
    from kehu.plugins.tickets import timeline

    return await timeline.timeline_entries(customer_id, before, limit)


@hookimpl
async def kehu_customers_merged(actor: Any, survivor_id: int, merged_id: int) -> None:
    from kehu.plugins.tickets.services import housekeeping

    await housekeeping.customers_merged(actor, survivor_id, merged_id)


@hookimpl
async def kehu_customers_reassigned(
    actor: Any, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> None:
    from kehu.plugins.tickets.services import housekeeping

    await housekeeping.customers_reassigned(actor, customer_ids, from_user_id, to_user_id)


@hookimpl
async def kehu_demo_data(actor: Any, users: dict[str, int]) -> None:
    from kehu.plugins.tickets import demo

    await demo.load_demo_data(actor, users)


@hookimpl(optionalhook=True)
async def kehu_incentive_actuals(metric: str, period: Any, group: str, currency: str) -> Any:
    """CSAT, first response and resolution hours for incentives' targets (if enabled)."""
    from kehu.plugins.tickets.integrations import incentive_actuals

    return await incentive_actuals(metric, period, group, currency)
