"""Dashboards: saved panels of metrics, private or shared with the owner's team."""

from typing import Any

import kehu.plugins.reporting.services.registry as m
from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import load_json, now
from kehu.core.services.records import stale
from kehu.plugins.reporting.services.reports import all_metrics
from kehu.plugins.reporting.tables import Dashboard


def dashboard_scope(actor: Actor) -> Any:
    if actor.visibility == "all" or actor.is_system:
        return None
    mine = Dashboard.owner == actor.user_id
    if actor.team_id is None:
        return mine
    return mine | (Dashboard.shared.eq(True) & (Dashboard.team == actor.team_id))


def _row(row: dict[str, Any]) -> dict[str, Any]:
    row["panels"] = load_json(row["panels"]) or []
    return row


def _check_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each panel is a metric query; unknown metrics, dimensions or filters are errors."""
    known = all_metrics()
    errors: list[FieldError] = []
    cleaned = []
    for i, panel in enumerate(panels):
        metric = known.get(panel.get("metric", ""))
        if metric is None:
            errors.append(
                FieldError(
                    f"panels.{i}.metric", f"Unknown metric {panel.get('metric')!r}", "NOT_FOUND"
                )
            )
            continue
        item = {
            "metric": metric.name,
            "title": panel.get("title") or metric.title,
            "dimensions": list(panel.get("dimensions") or []),
            "filters": dict(panel.get("filters") or {}),
            "granularity": panel.get("granularity") or "month",
        }
        try:
            m.check_query(
                metric,
                m.MetricQuery(
                    None,
                    tuple(item["dimensions"]),
                    item["filters"],  # type: ignore[arg-type]
                    granularity=item["granularity"],
                ),
            )
        except ValidationFailed as exc:
            errors += [FieldError(f"panels.{i}.{e.field}", e.message, e.code) for e in exc.errors]
        cleaned.append(item)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


async def list_dashboards(actor: Actor) -> list[dict[str, Any]]:
    actor.require("report:read")
    query = Dashboard.select()
    scope = dashboard_scope(actor)
    if scope is not None:
        query = query.where(scope)
    return [_row(r) for r in await query.order_by(Dashboard.name)]


async def get_dashboard(actor: Actor, dashboard_id: int) -> dict[str, Any]:
    actor.require("report:read")
    query = Dashboard.select().where(Dashboard.id == dashboard_id)
    scope = dashboard_scope(actor)
    row = await (query.where(scope) if scope is not None else query).first()
    if row is None:
        raise NotFound(f"Dashboard {dashboard_id} not found")
    return _row(row)


async def save_dashboard(
    actor: Actor,
    data: dict[str, Any],
    dashboard_id: int | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Create (no id) or update a dashboard you own (admins: any)."""
    actor.require("dashboard:write")
    name = (data.get("name") or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed(
            FieldError("name", "name is required (≤ 200 characters)", "REQUIRED")
        )
    values = {
        "name": name,
        "description": data.get("description") or "",
        "shared": bool(data.get("shared")),
        "team": actor.team_id,
        "panels": _check_panels(list(data.get("panels") or [])),
    }
    async with unit_of_work():
        if dashboard_id is None:
            row = (
                await Dashboard.insert(Dashboard(owner=actor.user_id, **values)).returning(
                    *Dashboard.all_columns()
                )
            )[0]
            await record(actor, "created", "dashboard", row["id"], after=row)
            return _row(row)
        before = await get_dashboard(actor, dashboard_id)
        if before["owner"] != actor.user_id and actor.visibility != "all":
            raise ValidationFailed("Only the owner may change a dashboard", field="id")
        query = Dashboard.update(
            {**values, Dashboard.version: Dashboard.version + 1, Dashboard.updated_at: now()}
        ).where(Dashboard.id == dashboard_id)
        if expected_version is not None:
            query = query.where(Dashboard.version == expected_version)
        rows = await query.returning(*Dashboard.all_columns())
        if not rows:
            raise stale("dashboard", dashboard_id, expected_version)
        await record(
            actor,
            "updated",
            "dashboard",
            dashboard_id,
            {"panels": before["panels"]},
            {"panels": values["panels"]},
        )
        return _row(rows[0])


async def delete_dashboard(actor: Actor, dashboard_id: int) -> int:
    actor.require("dashboard:write")
    async with unit_of_work():
        before = await get_dashboard(actor, dashboard_id)
        if before["owner"] != actor.user_id and actor.visibility != "all":
            raise ValidationFailed("Only the owner may delete a dashboard", field="id")
        await Dashboard.delete().where(Dashboard.id == dashboard_id)
        await record(actor, "deleted", "dashboard", dashboard_id, before=before)
    return dashboard_id
