"""The events the reporting plugin emits (its part of the catalogue in ``docs/events.md``).

Dashboards have their own visibility (``services.dashboard_scope``): actors who see all
records see every dashboard; others see their own dashboards and those shared with their team.
Dashboard events follow it through the ``visible`` rule below.
"""

from typing import Any

from kehu import EventType
from kehu.core.services.common import load_json
from kehu.core.tables import AuditLog
from kehu.plugins.reporting.services.dashboards import dashboard_scope
from kehu.plugins.reporting.tables import Dashboard


def _sees_dashboard(actor: Any, row: dict[str, Any]) -> bool:
    """``dashboard_scope`` for one snapshot of a dashboard (for dashboards deleted since)."""
    if actor.user_id is not None and row.get("owner") == actor.user_id:
        return True
    team = row.get("team")
    return bool(row.get("shared")) and team is not None and team == actor.team_id


async def dashboards_visible(actor: Any, events: list[Any]) -> set[str]:
    """A live dashboard by ``dashboard_scope`` as it is now (sharing and team may have changed
    since the event); a dashboard deleted since by its state when it was deleted (the
    ``before`` of the deletion's audit row). Three queries at most for the whole list."""
    scope = dashboard_scope(actor)
    if scope is None:
        return {e.id for e in events}
    ids = sorted({e.entity_id for e in events if e.entity_id is not None})
    if not ids:
        return set()
    shown = {
        r["id"] for r in await Dashboard.select(Dashboard.id).where(Dashboard.id.is_in(ids), scope)
    }
    rest = [i for i in ids if i not in shown]
    gone: set[int] = set()
    if rest:
        live = {
            r["id"] for r in await Dashboard.select(Dashboard.id).where(Dashboard.id.is_in(rest))
        }
        gone = set(rest) - live
    last: dict[int, dict[str, Any]] = {}
    if gone:
        rows = await AuditLog.select(AuditLog.entity_id, AuditLog.before).where(
            AuditLog.entity == "dashboard",
            AuditLog.action == "deleted",
            AuditLog.entity_id.is_in(sorted(gone)),
        )
        last = {r["entity_id"]: load_json(r["before"]) for r in rows if r["before"]}
    seen = shown | {i for i, row in last.items() if _sees_dashboard(actor, row)}
    return {e.id for e in events if e.entity_id in seen}


DASHBOARD = {
    "id": "dashboard id",
    "name": "its name",
    "description": "its description",
    "owner": "user id of the owner (only the owner, or an admin, changes it)",
    "team": "team id of whoever saved it last; a shared dashboard is shown to that team",
    "shared": "true: shown to the members of its team; false: private to the owner",
    "panels": "the metric queries shown: [{metric, title, dimensions, filters, granularity}]",
    "version": "row version, +1 on every save (optimistic locking)",
    "created_at": "when it was created",
    "updated_at": "when it was last saved",
}

REPORTING_EVENTS = [
    EventType(
        "dashboard.created",
        "A dashboard (a saved list of metric queries) was created.",
        DASHBOARD,
        table=Dashboard,
        scope="report:read",
        visible=dashboards_visible,
    ),
    EventType(
        "dashboard.updated",
        "A dashboard was saved again; the data holds its panels only (changes of the name, "
        "description or sharing are not in it).",
        {"panels": "the panels now: [{metric, title, dimensions, filters, granularity}]"},
        scope="report:read",
        visible=dashboards_visible,
    ),
    EventType(
        "dashboard.deleted",
        "A dashboard was deleted.",
        scope="report:read",
        visible=dashboards_visible,
    ),
]
