"""Pipeline business logic: pipelines and stages, leads, opportunities, stage history,
forecast, stale deals, metrics, merges and handovers.

No HTTP or GraphQL here: GraphQL, the CLI, jobs and event handlers call these functions, so
permissions (``actor.require``) and visibility (``opportunity_scope``) apply everywhere alike.
Every change runs in a ``unit_of_work()`` with an audit row (``record``).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from piccolo.query.functions.aggregate import Count, Max, Sum
from piccolo.querystring import QueryString

from kehu.core.context import current
from kehu.core.db import text_search
from kehu.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money, check_currency
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor, owner_team_scope, system_actor
from kehu.core.services import contacts as contact_service
from kehu.core.services import customers as customer_service
from kehu.core.services.common import as_date, load_json, now, raise_if
from kehu.core.services.customers import customer_scope, get_customer
from kehu.core.services.timeline import TimelineEntry
from kehu.core.tables import Activity, ActivityStatus, Customer, Team, User
from kehu.core.validation import clean_email, clean_phone, name_key, require_text
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.settings import PipelineSettings
from kehu.plugins.pipeline.templates import TEMPLATES, StageSpec

PLUGIN = "pipeline"
OPEN = t.OpportunityStatus.open.value
WON = t.OpportunityStatus.won.value
LOST = t.OpportunityStatus.lost.value
REQUIRABLE_FIELDS = (
    "amount",
    "expected_close_date",
    "needs",
    "line_items",
    "team_members",
    "description",
)


def config() -> PipelineSettings:
    return current().plugin_settings(PLUGIN)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _int(value: Any) -> int:
    return int(value or 0)


def weighted(basis: int, currency: str) -> Money:
    """``Σ amount_minor × probability`` (exact integer) → Money, ROUND_HALF_UP to the minor
    unit: the only rounding of a forecast happens here, at the edge."""
    value = (Decimal(basis) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Money(int(value), currency)


def need_priority(impact: int, difficulty: int, urgency: int) -> Decimal:
    """0.4·impact + 0.3·difficulty + 0.3·urgency, exact (S3 §3.3(2))."""
    return Decimal("0.4") * impact + Decimal("0.3") * difficulty + Decimal("0.3") * urgency


# -- visibility -----------------------------------------------------------------------------


def opportunity_scope(actor: Actor) -> Any:
    """Where-clause of the opportunities ``actor`` may see (``None`` = all): owned (or of the
    actor's team, by role visibility), on a customer the actor may see, or where the actor is
    on the opportunity team."""
    scope = owner_team_scope(actor, t.Opportunity.owner, t.Opportunity.team)
    if scope is None:
        return None
    visible_customers = Customer.select(Customer.id).where(customer_scope(actor))
    members = t.TeamMember.select(t.TeamMember.opportunity).where(
        t.TeamMember.user == actor.user_id
    )
    return scope | t.Opportunity.customer.is_in(visible_customers) | t.Opportunity.id.is_in(members)


def _visible(query: Any, actor: Actor) -> Any:
    scope = opportunity_scope(actor)
    return query.where(scope) if scope is not None else query


def lead_scope(actor: Actor) -> Any:
    return owner_team_scope(actor, t.Lead.owner, t.Lead.team)


# -- pipelines and stages ---------------------------------------------------------------------


async def list_pipelines(actor: Actor, include_archived: bool = False) -> list[dict[str, Any]]:
    actor.require("pipeline:read")
    query = t.Pipeline.select()
    if not include_archived:
        query = query.where(t.Pipeline.archived_at.is_null())
    return await query.order_by(t.Pipeline.is_default, ascending=False).order_by(t.Pipeline.id)


async def get_pipeline(actor: Actor, pipeline_id: int) -> dict[str, Any]:
    actor.require("pipeline:read")
    row = await t.Pipeline.select().where(t.Pipeline.id == pipeline_id).first()
    if row is None:
        raise NotFound(f"Pipeline {pipeline_id} not found")
    return row


def _stage_row(row: dict[str, Any]) -> dict[str, Any]:
    row["required_fields"] = list(load_json(row["required_fields"]) or [])
    row["back_to"] = list(load_json(row["back_to"]) or [])
    return row


async def stages_by_pipeline(pipeline_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in pipeline_ids}
    if pipeline_ids:
        rows = await t.Stage.select().where(t.Stage.pipeline.is_in(list(set(pipeline_ids))))
        for row in sorted(rows, key=lambda r: (r["position"], r["id"])):
            out[row["pipeline"]].append(_stage_row(row))
    return out


async def stages_by_ids(ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await t.Stage.select().where(t.Stage.id.is_in(list(set(ids))))
    return {r["id"]: _stage_row(r) for r in rows}


async def default_pipeline() -> dict[str, Any] | None:
    return (
        await t.Pipeline.select()
        .where(t.Pipeline.archived_at.is_null())
        .order_by(t.Pipeline.is_default, ascending=False)
        .order_by(t.Pipeline.id)
        .first()
    )


def _check_stage_specs(specs: list[StageSpec], policy: str) -> None:
    errors: list[FieldError] = []
    names = [s.name.strip() for s in specs]
    if not specs:
        errors.append(FieldError("stages", "A pipeline needs at least one stage", "REQUIRED"))
    if len(set(names)) != len(names):
        errors.append(FieldError("stages", "Stage names must be unique", "DUPLICATE"))
    if policy not in {p.value for p in t.TransitionPolicy}:
        errors.append(FieldError("transitionPolicy", "Unknown transition policy", "INVALID_CHOICE"))
    for s in specs:
        if not s.name.strip() or len(s.name) > 100:
            errors.append(FieldError("stages", "Stage names are 1..100 characters", "INVALID"))
        if not 0 <= s.probability <= 100:
            errors.append(FieldError("stages", f"{s.name}: probability must be 0..100", "INVALID"))
        if s.forecast_category not in {c.value for c in t.ForecastCategory}:
            errors.append(
                FieldError("stages", f"{s.name}: unknown forecast category", "INVALID_CHOICE")
            )
        if s.is_won and not s.is_closed:
            errors.append(FieldError("stages", f"{s.name}: a won stage is closed", "INVALID"))
        bad = set(s.required_fields) - set(REQUIRABLE_FIELDS)
        if bad:
            errors.append(
                FieldError(
                    "stages",
                    f"{s.name}: unknown required field(s) {', '.join(sorted(bad))}; "
                    f"allowed: {', '.join(REQUIRABLE_FIELDS)}",
                    "INVALID",
                )
            )
        earlier = names[: names.index(s.name.strip())] if s.name.strip() in names else []
        if set(s.back_to) - set(earlier):
            errors.append(
                FieldError(
                    "stages", f"{s.name}: backward moves must name earlier stages", "INVALID"
                )
            )
    if sum(1 for s in specs if s.is_won) > 1:
        errors.append(FieldError("stages", "At most one won stage", "INVALID"))
    raise_if(errors)


async def create_pipeline(
    actor: Actor,
    name: str,
    *,
    template: str | None = None,
    stages: list[StageSpec] | None = None,
    transition_policy: str | None = None,
    approval_threshold: Money | None = None,
    stale_after_days: int | None = None,
    description: str = "",
    is_default: bool = False,
) -> dict[str, Any]:
    """A pipeline from a template (``linear``, ``linear_with_approval``, ``consultative``,
    ``customer_journey``, ``online``) or from explicit stages."""
    actor.require("pipeline:manage")
    name, err = require_text(name, "name", 100)
    raise_if([err] if err else [])
    tpl = None
    if template is not None:
        tpl = TEMPLATES.get(template)
        if tpl is None:
            raise ValidationFailed(
                FieldError(
                    "template",
                    f"Unknown template {template!r}; one of {', '.join(TEMPLATES)}",
                    "INVALID_CHOICE",
                )
            )
    if stages is None and tpl is None:
        raise ValidationFailed(FieldError("stages", "Give a template or stages", "REQUIRED"))
    specs = list(stages if stages is not None else tpl.stages)  # type: ignore[union-attr]
    policy = transition_policy or (tpl.policy if tpl else t.TransitionPolicy.linear.value)
    _check_stage_specs(specs, policy)
    if approval_threshold is None and tpl is not None and tpl.approval:
        approval_threshold = Money.from_decimal(
            config().approval_threshold, config().default_currency
        )
    days = stale_after_days if stale_after_days is not None else config().default_stale_after_days
    if days < 1:
        raise ValidationFailed(
            FieldError("staleAfterDays", "staleAfterDays must be ≥ 1", "INVALID")
        )
    async with unit_of_work():
        if await t.Pipeline.exists().where(t.Pipeline.name == name):
            raise ValidationFailed(
                FieldError("name", f"A pipeline named {name!r} exists", "DUPLICATE")
            )
        first = not await t.Pipeline.exists()
        row = (
            await t.Pipeline.insert(
                t.Pipeline(
                    name=name,
                    description=description or (tpl.description if tpl else ""),
                    template=template or "",
                    transition_policy=policy,
                    approval_threshold_minor=approval_threshold.minor
                    if approval_threshold
                    else None,
                    approval_currency=approval_threshold.currency if approval_threshold else "",
                    stale_after_days=days,
                    is_default=is_default or first,
                )
            ).returning(*t.Pipeline.all_columns())
        )[0]
        if row["is_default"] and not first:
            await t.Pipeline.update({t.Pipeline.is_default: False}).where(
                t.Pipeline.id != row["id"]
            )
        await t.Stage.insert(
            *[
                t.Stage(
                    pipeline=row["id"],
                    name=s.name.strip(),
                    position=i + 1,
                    probability=s.probability,
                    forecast_category=s.forecast_category,
                    is_closed=s.is_closed,
                    is_won=s.is_won,
                    is_approval=s.is_approval,
                    required_fields=list(s.required_fields),
                    back_to=list(s.back_to),
                )
                for i, s in enumerate(specs)
            ]
        )
        await record(
            actor,
            "created",
            "pipeline",
            row["id"],
            after={**row, "stages": [s.name for s in specs]},
        )
    return row


async def update_pipeline(
    actor: Actor, pipeline_id: int, expected_version: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Change name, description, transitionPolicy, staleAfterDays, approvalThreshold
    (``Money`` or ``None``), isDefault or archive (``archived: bool``)."""
    actor.require("pipeline:manage")
    values: dict[Any, Any] = {}
    errors: list[FieldError] = []
    if "name" in data:
        values["name"], err = require_text(data["name"], "name", 100)
        errors += [err] if err else []
    if "description" in data:
        values["description"] = data["description"] or ""
    if "transition_policy" in data:
        if data["transition_policy"] not in {p.value for p in t.TransitionPolicy}:
            errors.append(FieldError("transitionPolicy", "Unknown policy", "INVALID_CHOICE"))
        values["transition_policy"] = data["transition_policy"]
    if "stale_after_days" in data:
        if not isinstance(data["stale_after_days"], int) or data["stale_after_days"] < 1:
            errors.append(FieldError("staleAfterDays", "staleAfterDays must be ≥ 1", "INVALID"))
        values["stale_after_days"] = data["stale_after_days"]
    if "approval_threshold" in data:
        money = data["approval_threshold"]
        values["approval_threshold_minor"] = money.minor if money else None
        values["approval_currency"] = money.currency if money else ""
    if "archived" in data:
        values["archived_at"] = now() if data["archived"] else None
    if data.get("is_default"):
        values["is_default"] = True
    raise_if(errors)
    async with unit_of_work():
        before = await get_pipeline(actor, pipeline_id)
        if "name" in values and await t.Pipeline.exists().where(
            t.Pipeline.name == values["name"], t.Pipeline.id != pipeline_id
        ):
            raise ValidationFailed(
                FieldError("name", "A pipeline with this name exists", "DUPLICATE")
            )
        if values.get("is_default"):
            await t.Pipeline.update({t.Pipeline.is_default: False}).where(
                t.Pipeline.id != pipeline_id
            )
        rows = (
            await t.Pipeline.update(
                {**values, t.Pipeline.version: t.Pipeline.version + 1, t.Pipeline.updated_at: now()}
            )
            .where(t.Pipeline.id == pipeline_id, t.Pipeline.version == expected_version)
            .returning(*t.Pipeline.all_columns())
        )
        if not rows:
            raise Conflict(
                f"Pipeline {pipeline_id} was changed by someone else "
                f"(expected version {expected_version}); reload and retry"
            )
        changed = {k: rows[0][k] for k in values if rows[0][k] != before[k]}
        await record(
            actor, "updated", "pipeline", pipeline_id, {k: before[k] for k in changed}, changed
        )
    return rows[0]


async def update_stage(actor: Actor, stage_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change a stage's name, probability, forecastCategory, requiredFields or backTo.
    Open opportunities in the stage take the new probability/category unless overridden."""
    actor.require("pipeline:manage")
    async with unit_of_work():
        before = (await stages_by_ids([stage_id])).get(stage_id)
        if before is None:
            raise NotFound(f"Stage {stage_id} not found")
        siblings = (await stages_by_pipeline([before["pipeline"]]))[before["pipeline"]]
        fields = (
            "name",
            "probability",
            "forecast_category",
            "is_closed",
            "is_won",
            "is_approval",
            "required_fields",
            "back_to",
        )
        spec = {k: before[k] for k in fields}
        spec.update(
            {
                k: v
                for k, v in data.items()
                if k in spec and k not in ("is_closed", "is_won", "is_approval")
            }
        )
        if isinstance(spec["name"], str):
            spec["name"] = spec["name"].strip()
        renamed = spec["name"] != before["name"]

        def rename(names: list[str]) -> list[str]:
            return [spec["name"] if renamed and n == before["name"] else n for n in names]

        rows = [
            (
                {**spec, "back_to": list(spec["back_to"] or [])}
                if s["id"] == stage_id
                else {**{k: s[k] for k in fields}, "back_to": rename(s["back_to"])}
            )
            for s in siblings
        ]
        specs = [
            StageSpec(
                **{
                    **r,
                    "required_fields": tuple(r["required_fields"] or ()),
                    "back_to": tuple(r["back_to"]),
                }
            )
            for r in rows
        ]
        pipeline = await get_pipeline(actor, before["pipeline"])
        _check_stage_specs(specs, pipeline["transition_policy"])
        values = {
            k: list(v) if isinstance(v, tuple | list) else v for k, v in spec.items() if k in data
        }
        row = (
            await t.Stage.update(values)
            .where(t.Stage.id == stage_id)
            .returning(*t.Stage.all_columns())
        )[0]
        if renamed:  # keep the other stages' backward edges pointing at this stage
            for sibling, new in zip(siblings, rows, strict=True):
                if sibling["id"] != stage_id and sibling["back_to"] != new["back_to"]:
                    await t.Stage.update({t.Stage.back_to: new["back_to"]}).where(
                        t.Stage.id == sibling["id"]
                    )
        if {"probability", "forecast_category"} & set(values):
            await _propagate_stage(row)
        await record(
            actor,
            "stage_updated",
            "pipeline",
            before["pipeline"],
            {k: before[k] for k in values},
            {"stage_id": stage_id, **values},
        )
    return _stage_row(row)


async def set_stages(
    actor: Actor,
    pipeline_id: int,
    expected_version: int,
    stages: list[tuple[int | None, StageSpec]],
) -> dict[str, Any]:
    """Replace a pipeline's stage list in one go: stages given with their id keep their
    identity (rename, reorder, edit), stages without an id are added, stages left out are
    removed — refused with STAGE_IN_USE while an opportunity or its history refers to them."""
    actor.require("pipeline:manage")
    specs = [spec for _, spec in stages]
    async with unit_of_work():
        pipeline = await get_pipeline(actor, pipeline_id)
        _check_stage_specs(specs, pipeline["transition_policy"])
        current = {s["id"]: s for s in (await stages_by_pipeline([pipeline_id]))[pipeline_id]}
        given = [i for i, _ in stages if i is not None]
        foreign = [i for i in given if i not in current]
        if foreign or len(set(given)) != len(given):
            raise ValidationFailed(
                FieldError(
                    "stages",
                    f"Stage {foreign[0] if foreign else given[0]} is not in this pipeline "
                    "or given twice",
                    "INVALID",
                )
            )
        removed = [s for i, s in current.items() if i not in set(given)]
        if removed:
            ids = [s["id"] for s in removed]
            used = await t.Opportunity.exists().where(t.Opportunity.stage.is_in(ids)) or (
                await t.StageChange.exists().where(
                    t.StageChange.to_stage.is_in(ids) | t.StageChange.from_stage.is_in(ids)
                )
            )
            if used:
                raise ValidationFailed(
                    FieldError(
                        "stages",
                        f"Stage(s) {', '.join(s['name'] for s in removed)} hold "
                        "opportunities or their history; move them first",
                        "STAGE_IN_USE",
                    )
                )
            await t.Stage.delete().where(t.Stage.id.is_in(ids))
        for position, (stage_id, spec) in enumerate(stages, start=1):
            values = {
                "name": spec.name.strip(),
                "position": position,
                "probability": spec.probability,
                "forecast_category": spec.forecast_category,
                "is_closed": spec.is_closed,
                "is_won": spec.is_won,
                "is_approval": spec.is_approval,
                "required_fields": list(spec.required_fields),
                "back_to": list(spec.back_to),
            }
            if stage_id is None:
                await t.Stage.insert(t.Stage(pipeline=pipeline_id, **values))
                continue
            before = current[stage_id]
            flags_change = (before["is_closed"], before["is_won"]) != (spec.is_closed, spec.is_won)
            if flags_change and await t.Opportunity.exists().where(t.Opportunity.stage == stage_id):
                raise ValidationFailed(
                    FieldError(
                        "stages",
                        f"{before['name']}: closed/won flags cannot change while "
                        "opportunities are in it",
                        "STAGE_IN_USE",
                    )
                )
            row = (
                await t.Stage.update(values)
                .where(t.Stage.id == stage_id)
                .returning(*t.Stage.all_columns())
            )[0]
            await _propagate_stage(row)
        rows = (
            await t.Pipeline.update(
                {t.Pipeline.version: t.Pipeline.version + 1, t.Pipeline.updated_at: now()}
            )
            .where(t.Pipeline.id == pipeline_id, t.Pipeline.version == expected_version)
            .returning(*t.Pipeline.all_columns())
        )
        if not rows:
            raise Conflict(
                f"Pipeline {pipeline_id} was changed by someone else "
                f"(expected version {expected_version}); reload and retry"
            )
        await record(
            actor,
            "stages_set",
            "pipeline",
            pipeline_id,
            {"stages": [s["name"] for s in current.values()]},
            {"stages": [s.name for s in specs]},
        )
    return rows[0]


async def _propagate_stage(row: dict[str, Any]) -> None:
    """Open opportunities in a stage follow its probability and forecast category unless
    they override them."""
    if row["is_closed"]:
        return
    await t.Opportunity.update(
        {
            t.Opportunity.probability: row["probability"],
            t.Opportunity.weighted_basis: t.Opportunity.amount_minor * row["probability"],
        }
    ).where(
        t.Opportunity.stage == row["id"],
        t.Opportunity.status == OPEN,
        t.Opportunity.probability_overridden.eq(False),
    )
    await t.Opportunity.update({t.Opportunity.forecast_category: row["forecast_category"]}).where(
        t.Opportunity.stage == row["id"],
        t.Opportunity.status == OPEN,
        t.Opportunity.category_overridden.eq(False),
    )


# -- opportunities: reading -----------------------------------------------------------------


async def get_opportunity(actor: Actor, opportunity_id: int) -> dict[str, Any]:
    actor.require("opportunity:read")
    row = await _visible(
        t.Opportunity.select().where(t.Opportunity.id == opportunity_id), actor
    ).first()
    if row is None:
        raise NotFound(f"Opportunity {opportunity_id} not found")
    return row


async def opportunities_by_ids(actor: Actor, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids or not actor.can("opportunity:read"):
        return {}
    rows = await _visible(
        t.Opportunity.select().where(t.Opportunity.id.is_in(list(set(ids)))), actor
    )
    return {r["id"]: r for r in rows}


@dataclass
class OpportunityFilter:
    customer_id: int | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    owner_id: int | None = None
    team_id: int | None = None
    status: str | None = None
    forecast_category: str | None = None
    close_after: date | None = None
    close_before: date | None = None
    search: str | None = None


ORDER_COLUMNS = {
    "CREATED_AT": t.Opportunity.created_at,
    "UPDATED_AT": t.Opportunity.updated_at,
    "AMOUNT": t.Opportunity.amount_minor,
    "KANBAN": t.Opportunity.kanban_position,
    "NAME": t.Opportunity.name,
}


def _filtered(query: Any, actor: Actor, f: OpportunityFilter) -> Any:
    query = _visible(query, actor)
    o = t.Opportunity
    for column, value in (
        (o.customer, f.customer_id),
        (o.pipeline, f.pipeline_id),
        (o.stage, f.stage_id),
        (o.owner, f.owner_id),
        (o.team, f.team_id),
        (o.status, f.status),
        (o.forecast_category, f.forecast_category),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.close_after is not None:
        query = query.where(o.expected_close_date >= f.close_after)
    if f.close_before is not None:
        query = query.where(o.expected_close_date < f.close_before)
    if f.search and f.search.strip():
        query = query.where(text_search(f.search, [o.name, o.description]))
    return query


async def list_opportunities(
    actor: Actor,
    f: OpportunityFilter | None = None,
    *,
    order_by: str = "CREATED_AT",
    descending: bool = True,
    first: int = 20,
    after: str | None = None,
) -> Page:
    actor.require("opportunity:read")
    sort = ORDER_COLUMNS.get(order_by)
    if sort is None:
        raise ValidationFailed(f"Unknown order {order_by!r}", field="orderBy")
    return await keyset_page(
        _filtered(t.Opportunity.select(), actor, f or OpportunityFilter()),
        sort=sort,
        pk=t.Opportunity.id,
        descending=descending,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )


async def count_opportunities(actor: Actor, f: OpportunityFilter | None = None) -> int:
    actor.require("opportunity:read")
    return await _filtered(t.Opportunity.count(), actor, f or OpportunityFilter())


async def opportunities_by_customer(
    actor: Actor, customer_ids: list[int], status: str | None = None
) -> dict[int, list[dict[str, Any]]]:
    """Visible opportunities of each customer (newest first), one query."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in customer_ids}
    if not customer_ids or not actor.can("opportunity:read"):
        return out
    query = _visible(
        t.Opportunity.select().where(t.Opportunity.customer.is_in(list(set(customer_ids)))), actor
    )
    if status is not None:
        query = query.where(t.Opportunity.status == status)
    for row in await query.order_by(t.Opportunity.created_at, t.Opportunity.id, ascending=False):
        out[row["customer"]].append(row)
    return out


async def open_value_by_customer(actor: Actor, customer_ids: list[int]) -> dict[int, list[Money]]:
    """Sum of visible open opportunity amounts per customer and currency (SQL aggregate)."""
    out: dict[int, list[Money]] = {i: [] for i in customer_ids}
    if not customer_ids or not actor.can("opportunity:read"):
        return out
    o = t.Opportunity
    query = _visible(
        o.select(o.customer, o.currency, Sum(o.amount_minor, alias="total")).where(
            o.customer.is_in(list(set(customer_ids))), o.status == OPEN
        ),
        actor,
    )
    rows = await query.group_by(o.customer, o.currency).order_by(o.customer, o.currency)
    for r in rows:
        out[r["customer"]].append(Money(_int(r["total"]), r["currency"]))
    return out


async def last_changes(opportunity_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The latest stage-history row of each opportunity, one query."""
    if not opportunity_ids:
        return {}
    h = t.StageChange
    latest = (
        h.select(Max(h.id))
        .where(h.opportunity.is_in(list(set(opportunity_ids))))
        .group_by(h.opportunity)
    )
    rows = await h.select().where(h.id.is_in(latest))
    return {r["opportunity"]: r for r in rows}


async def history(opportunity_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in opportunity_ids}
    if opportunity_ids:
        h = t.StageChange
        rows = (
            await h.select()
            .where(h.opportunity.is_in(list(set(opportunity_ids))))
            .order_by(h.at, h.id)
        )
        for r in rows:
            out[r["opportunity"]].append(r)
    return out


def _children_loader(table: Any, order: Any) -> Any:
    async def load(opportunity_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in opportunity_ids}
        if opportunity_ids:
            rows = (
                await table.select()
                .where(table.opportunity.is_in(list(set(opportunity_ids))))
                .order_by(order, table.id)
            )
            for r in rows:
                out[r["opportunity"]].append(r)
        return out

    return load


team_members_of = _children_loader(t.TeamMember, t.TeamMember.created_at)
line_items_of = _children_loader(t.LineItem, t.LineItem.position)
needs_of = _children_loader(t.Need, t.Need.created_at)


def time_in_stages(rows: list[dict[str, Any]], at: datetime | None = None) -> list[tuple[int, int]]:
    """``[(stage_id, seconds)]`` in first-entered order, from an opportunity's history rows;
    the current stage counts until ``at`` (default now) while the opportunity is open."""
    at = at or now()
    totals: dict[int, int] = {}
    for row in rows:
        if row["seconds"] is not None:
            seconds = row["seconds"]
        elif row["kind"] in (t.HistoryKind.won.value, t.HistoryKind.lost.value):
            seconds = 0  # a closed deal stops the clock
        else:
            seconds = max(0, int((_aware(at) - _aware(row["at"])).total_seconds()))
        totals[row["to_stage"]] = totals.get(row["to_stage"], 0) + seconds
    return list(totals.items())


def cycle_seconds(row: dict[str, Any], at: datetime | None = None) -> int:
    """Created → closed (or → now while open)."""
    if row["cycle_seconds"] is not None:
        return row["cycle_seconds"]
    return max(0, int((_aware(at or now()) - _aware(row["created_at"])).total_seconds()))


# -- opportunities: changing ----------------------------------------------------------------

EDITABLE = {
    "name",
    "description",
    "amount",
    "expected_close_date",
    "owner",
    "team",
    "probability",
    "forecast_category",
    "source",
}


async def _check_user(user_id: int | None, field: str, errors: list[FieldError]) -> Any:
    if user_id is None:
        return None
    user = await User.select(User.id, User.team, User.active).where(User.id == user_id).first()
    if user is None or not user["active"]:
        errors.append(FieldError(field, "Must be an active user", "NOT_FOUND"))
    return user


def _clean(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - EDITABLE - {"customer", "pipeline", "stage"}
    if unknown:
        raise ValidationFailed(f"Unknown opportunity field(s): {', '.join(sorted(unknown))}")
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        out["name"], err = require_text(data.get("name"), "name", 255)
        errors += [err] if err else []
    if "description" in data:
        out["description"] = data["description"] or ""
    if "source" in data:
        out["source"] = (data["source"] or "").strip()[:50]
    if "amount" in data:
        money = data["amount"]
        if money is None:
            money = Money.zero(config().default_currency)
        if not isinstance(money, Money):
            errors.append(FieldError("amount", "amount must be Money", "INVALID"))
        elif money.minor < 0:
            errors.append(FieldError("amount", "amount must not be negative", "INVALID"))
        else:
            out["amount_minor"], out["currency"] = money.minor, check_currency(money.currency)
    if "expected_close_date" in data:
        out["expected_close_date"] = as_date(
            data["expected_close_date"], "expectedCloseDate", errors
        )
    if "probability" in data:
        p = data["probability"]
        if p is not None and (isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 100):
            errors.append(
                FieldError("probability", "probability is an integer percent 0..100", "INVALID")
            )
        out["probability"] = p
    if "forecast_category" in data:
        c = data["forecast_category"]
        if c is not None and c not in {x.value for x in t.ForecastCategory}:
            errors.append(
                FieldError("forecastCategory", "Unknown forecast category", "INVALID_CHOICE")
            )
        out["forecast_category"] = c
    for name in ("owner", "team", "customer", "pipeline", "stage"):
        if name in data:
            out[name] = data[name]
    raise_if(errors)
    return out


def _forecast_values(row: dict[str, Any], stage: dict[str, Any]) -> dict[str, Any]:
    """Effective probability, category and weighted basis for a row in a stage."""
    status = row.get("status", OPEN)
    if status == WON:
        probability, category = 100, t.ForecastCategory.closed.value
    elif status == LOST:
        probability, category = 0, t.ForecastCategory.omitted.value
    else:
        probability = (
            row["probability"] if row.get("probability_overridden") else stage["probability"]
        )
        category = (
            row["forecast_category"]
            if row.get("category_overridden")
            else stage["forecast_category"]
        )
    return {
        "probability": probability,
        "forecast_category": category,
        "weighted_basis": row["amount_minor"] * probability,
    }


async def _missing_required(row: dict[str, Any], stage: dict[str, Any]) -> list[str]:
    missing = []
    empty = {
        "amount": not row["amount_minor"],
        "expected_close_date": row["expected_close_date"] is None,
        "description": not (row.get("description") or "").strip(),
    }
    for name in stage["required_fields"]:
        if empty.get(name):
            missing.append(name)
        elif name in ("needs", "line_items", "team_members"):
            table = {"needs": t.Need, "line_items": t.LineItem, "team_members": t.TeamMember}[name]
            if row.get("id") is None or not await table.exists().where(
                table.opportunity == row["id"]
            ):
                missing.append(name)
    return missing


def _rule(code: str, message: str, field: str = "stageId") -> ValidationFailed:
    return ValidationFailed(FieldError(field, message, code))


async def _check_required(row: dict[str, Any], stage: dict[str, Any]) -> None:
    missing = await _missing_required(row, stage)
    if missing:
        raise _rule(
            "REQUIRED_FIELD_MISSING",
            f"Rule 'required fields': stage {stage['name']!r} requires "
            f"{', '.join(missing)} to be filled first",
        )


async def create_opportunity(
    actor: Actor, data: dict[str, Any], *, lead_id: int | None = None
) -> dict[str, Any]:
    """A new open opportunity on a visible customer, in the given (or default) pipeline and
    its first stage unless ``stage`` names an open stage."""
    actor.require("opportunity:write")
    values = _clean(data, partial=False)
    errors: list[FieldError] = []
    if values.get("customer") is None:
        errors.append(FieldError("customerId", "customerId is required", "REQUIRED"))
    raise_if(errors)
    owner_id = values.pop("owner", None)
    team_id = values.pop("team", None)
    if owner_id is None and not actor.is_system:
        owner_id = actor.user_id
    if owner_id not in (None, actor.user_id):
        actor.require("opportunity:assign")
    owner = await _check_user(owner_id, "ownerId", errors)
    raise_if(errors)
    if team_id is None and owner is not None:
        team_id = owner["team"]
    async with unit_of_work():
        customer = await get_customer(actor, values.pop("customer"))
        if customer["archived_at"] is not None:
            raise ValidationFailed(FieldError("customerId", "Customer is archived", "ARCHIVED"))
        pipeline_id = values.pop("pipeline", None)
        pipeline = (
            await get_pipeline(actor, pipeline_id)
            if pipeline_id is not None
            else await default_pipeline()
        )
        if pipeline is None:
            raise ValidationFailed(FieldError("pipelineId", "No pipeline exists yet", "REQUIRED"))
        if pipeline["archived_at"] is not None:
            raise ValidationFailed(FieldError("pipelineId", "Pipeline is archived", "ARCHIVED"))
        stages = (await stages_by_pipeline([pipeline["id"]]))[pipeline["id"]]
        stage_id = values.pop("stage", None)
        if stage_id is None:
            stage = next(s for s in stages if not s["is_closed"])
        else:
            stage = next((s for s in stages if s["id"] == stage_id), None)
            if stage is None or stage["is_closed"]:
                raise _rule("INVALID_STAGE", "Stage must be an open stage of the pipeline")
        probability = values.pop("probability", None)
        category = values.pop("forecast_category", None)
        row = {
            "amount_minor": 0,
            "currency": config().default_currency,
            "expected_close_date": None,
            **values,
            "probability_overridden": probability is not None,
            "category_overridden": category is not None,
            "probability": probability,
            "forecast_category": category,
        }
        await _check_required(row, stage)
        row.update(_forecast_values(row, stage))
        position = await t.Opportunity.count().where(t.Opportunity.stage == stage["id"])
        created = (
            await t.Opportunity.insert(
                t.Opportunity(
                    **row,
                    customer=customer["id"],
                    pipeline=pipeline["id"],
                    stage=stage["id"],
                    owner=owner_id,
                    team=team_id,
                    kanban_position=position,
                    lead=lead_id,
                    stage_entered_at=now(),
                )
            ).returning(*t.Opportunity.all_columns())
        )[0]
        await t.StageChange.insert(
            t.StageChange(
                opportunity=created["id"],
                kind=t.HistoryKind.created.value,
                from_stage=None,
                to_stage=stage["id"],
                actor=actor.user_id,
                at=created["created_at"],
            )
        )
        await record(actor, "created", "opportunity", created["id"], after=created)
    return created


async def _lock(
    actor: Actor,
    opportunity_id: int,
    expected_version: int | None,
    scope: str = "opportunity:write",
) -> dict[str, Any]:
    actor.require(scope)
    row = await get_opportunity(actor, opportunity_id)
    if expected_version is not None and row["version"] != expected_version:
        raise Conflict(
            f"Opportunity {opportunity_id} was changed by someone else "
            f"(expected version {expected_version}); reload and retry"
        )
    return row


async def _save(row: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    o = t.Opportunity
    rows = (
        await o.update({**values, o.version: o.version + 1, o.updated_at: now()})
        .where(o.id == row["id"], o.version == row["version"])
        .returning(*o.all_columns())
    )
    if not rows:
        raise Conflict(f"Opportunity {row['id']} was changed by someone else; reload and retry")
    return rows[0]


async def update_opportunity(
    actor: Actor, opportunity_id: int, expected_version: int, data: dict[str, Any]
) -> dict[str, Any]:
    values = _clean(data, partial=True)
    for key in ("customer", "pipeline", "stage"):
        if key in values:
            raise ValidationFailed(
                FieldError(
                    f"{key}Id",
                    f"{key} cannot be changed here (use moveOpportunityStage)",
                    "READ_ONLY",
                )
            )
    async with unit_of_work():
        before = await _lock(actor, opportunity_id, expected_version)
        errors: list[FieldError] = []
        if "owner" in values and values["owner"] != before["owner"]:
            actor.require("opportunity:assign")
            owner = await _check_user(values["owner"], "ownerId", errors)
            if owner is not None and "team" not in values:
                values["team"] = owner["team"]
        if (
            "team" in values
            and values["team"] is not None
            and not await Team.exists().where(Team.id == values["team"])
        ):
            errors.append(FieldError("teamId", "Team not found", "NOT_FOUND"))
        raise_if(errors)
        if "probability" in values:
            p = values.pop("probability")
            values["probability_overridden"] = p is not None
            if p is not None:
                values["probability"] = p
        if "forecast_category" in values:
            c = values.pop("forecast_category")
            values["category_overridden"] = c is not None
            if c is not None:
                values["forecast_category"] = c
        merged = {**before, **values}
        stage = (await stages_by_ids([before["stage"]]))[before["stage"]]
        if before["status"] == OPEN:
            await _check_required(merged, stage)
        values.update(_forecast_values(merged, stage))
        if before["approved_at"] is not None and (merged["amount_minor"], merged["currency"]) != (
            before["amount_minor"],
            before["currency"],
        ):
            values["approved_at"] = None  # a changed amount needs a new approval
            values["approved_by"] = None
        after = await _save(before, values)
        changed = [k for k in after if k not in ("version", "updated_at") and after[k] != before[k]]
        await record(
            actor,
            "updated",
            "opportunity",
            opportunity_id,
            {k: before[k] for k in changed},
            {k: after[k] for k in changed},
            customer_id=after["customer"],
        )
    return after


async def delete_opportunity(actor: Actor, opportunity_id: int) -> int:
    async with unit_of_work():
        before = await _lock(actor, opportunity_id, None, "opportunity:delete")
        await t.Opportunity.delete().where(t.Opportunity.id == opportunity_id)
        await record(actor, "deleted", "opportunity", opportunity_id, before=before)
    return opportunity_id


def _approval_required(pipeline: dict[str, Any], row: dict[str, Any]) -> bool:
    threshold = pipeline["approval_threshold_minor"]
    if threshold is None:
        return False
    if row["currency"] != pipeline["approval_currency"]:
        return True  # cannot compare across currencies: be safe
    return row["amount_minor"] > threshold


async def check_transition(
    pipeline: dict[str, Any],
    stages: list[dict[str, Any]],
    row: dict[str, Any],
    to: dict[str, Any],
) -> None:
    """Raise ``ValidationFailed`` naming the rule when ``row`` may not enter stage ``to``."""
    current_stage = next(s for s in stages if s["id"] == row["stage"])
    if to["id"] == current_stage["id"]:
        raise _rule("SAME_STAGE", f"The opportunity is already in {to['name']!r}")
    order = [s for s in stages if not s["is_closed"] or s["is_won"]]
    needs_approval = _approval_required(pipeline, row)
    approval_stages = [s for s in order if s["is_approval"]]
    forward = to["position"] > current_stage["position"]
    if pipeline["transition_policy"] == t.TransitionPolicy.linear.value:
        if forward:
            after = [s for s in order if s["position"] > current_stage["position"]]
            expected = next(
                (s for s in after if not (s["is_approval"] and not needs_approval)), None
            )
            skipped = [s for s in after if s["position"] < to["position"]]
            if any(s["is_approval"] for s in skipped) and needs_approval:
                raise _rule(
                    "APPROVAL_REQUIRED",
                    "Rule 'approval': deals above the approval threshold must pass "
                    f"{approval_stages[0]['name']!r}",
                )
            if expected is None or to["id"] != expected["id"]:
                names = ", ".join(repr(s["name"]) for s in skipped if not s["is_approval"])
                raise _rule(
                    "STAGE_SKIPPED",
                    f"Rule 'linear': stages may not be skipped (next is "
                    f"{expected['name'] if expected else 'none'!r}; skipping {names})",
                )
        elif to["name"] not in current_stage["back_to"]:
            raise _rule(
                "BACKWARD_NOT_ALLOWED",
                f"Rule 'linear': moving back from {current_stage['name']!r} to "
                f"{to['name']!r} is not allowed",
            )
    elif (
        forward
        and needs_approval
        and approval_stages
        and any(current_stage["position"] < s["position"] < to["position"] for s in approval_stages)
    ):
        raise _rule(
            "APPROVAL_REQUIRED",
            "Rule 'approval': deals above the approval threshold "
            f"must pass {approval_stages[0]['name']!r}",
        )
    if forward and current_stage["is_approval"] and needs_approval and row["approved_at"] is None:
        raise _rule(
            "APPROVAL_REQUIRED",
            f"Rule 'approval': the deal is above the approval threshold and must be "
            f"approved in {current_stage['name']!r} before moving on",
        )
    await _check_required(row, to)


async def _transition(
    actor: Actor,
    row: dict[str, Any],
    to: dict[str, Any],
    kind: str,
    extra: dict[str, Any] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Write the move: close the open history row, add the new one, update the row, audit
    and queue ``opportunity.<kind>`` events (plus ``opportunity.stage_changed``)."""
    at = now()
    h = t.StageChange
    open_rows = await h.select(h.id, h.at).where(h.opportunity == row["id"], h.left_at.is_null())
    for r in open_rows:
        await h.update(
            {h.left_at: at, h.seconds: max(0, int((at - _aware(r["at"])).total_seconds()))}
        ).where(h.id == r["id"])
    await h.insert(
        h(
            opportunity=row["id"],
            kind=kind,
            from_stage=row["stage"],
            to_stage=to["id"],
            actor=actor.user_id,
            at=at,
            note=note[:255],
        )
    )
    values = {"stage": to["id"], "stage_entered_at": at, **(extra or {})}
    merged = {**row, **values}
    values.update(_forecast_values(merged, to))
    if row["stage"] != to["id"]:
        values["kanban_position"] = await t.Opportunity.count().where(
            t.Opportunity.stage == to["id"]
        )
    after = await _save(row, values)
    stages = await stages_by_ids([row["stage"], to["id"]])
    data = {
        "customer": row["customer"],
        "from_stage": stages[row["stage"]]["name"],
        "to_stage": to["name"],
        "from_stage_id": row["stage"],
        "to_stage_id": to["id"],
        "status": after["status"],
        "amount_minor": after["amount_minor"],
        "currency": after["currency"],
        "owner": after["owner"],
    }
    await record(
        actor,
        "stage_changed",
        "opportunity",
        row["id"],
        {"stage": row["stage"], "status": row["status"]},
        {"stage": to["id"], "status": after["status"]},
        event_data=data,
    )
    if kind in ("won", "lost", "reopened"):
        await record(
            actor,
            kind,
            "opportunity",
            row["id"],
            {"status": row["status"]},
            {"status": after["status"], **(extra or {})},
            event_data={**data, "reason": after["lost_reason"]},
        )
    return after


async def _context(actor: Actor, row: dict[str, Any]) -> tuple[dict, list[dict]]:
    pipeline = await get_pipeline(actor, row["pipeline"])
    stages = (await stages_by_pipeline([pipeline["id"]]))[pipeline["id"]]
    return pipeline, stages


def _require_open(row: dict[str, Any]) -> None:
    if row["status"] != OPEN:
        raise _rule(
            "OPPORTUNITY_CLOSED",
            f"Rule 'closed': the opportunity is {row['status']}; reopen it first",
            "id",
        )


async def move_stage(
    actor: Actor,
    opportunity_id: int,
    stage_id: int,
    expected_version: int | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Move an open opportunity to another open stage of its pipeline, enforcing the
    pipeline's transition policy, entry requirements and the approval threshold."""
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version)
        _require_open(row)
        pipeline, stages = await _context(actor, row)
        to = next((s for s in stages if s["id"] == stage_id), None)
        if to is None:
            raise _rule("WRONG_PIPELINE", "Stage is not in the opportunity's pipeline")
        if to["is_closed"]:
            raise _rule(
                "CLOSED_STAGE",
                f"{to['name']!r} is a closed stage: use winOpportunity or loseOpportunity",
            )
        await check_transition(pipeline, stages, row, to)
        return await _transition(actor, row, to, t.HistoryKind.moved.value, note=note)


async def approve_opportunity(
    actor: Actor, opportunity_id: int, expected_version: int | None = None
) -> dict[str, Any]:
    """Grant the decision approval of a deal sitting in the approval stage."""
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version, "opportunity:approve")
        _require_open(row)
        stage = (await stages_by_ids([row["stage"]]))[row["stage"]]
        if not stage["is_approval"]:
            raise _rule("NOT_IN_APPROVAL", "Only deals in the approval stage can be approved")
        after = await _save(row, {"approved_at": now(), "approved_by": actor.user_id})
        await record(
            actor,
            "approved",
            "opportunity",
            opportunity_id,
            None,
            {"approved_at": after["approved_at"]},
            customer_id=row["customer"],
        )
    return after


def _closing(row: dict[str, Any], status: str) -> dict[str, Any]:
    at = now()
    extra: dict[str, Any] = {
        "status": status,
        "closed_at": at,
        "cycle_seconds": max(0, int((at - _aware(row["created_at"])).total_seconds())),
    }
    if row["expected_close_date"] is None:
        extra["expected_close_date"] = at.date()
    return extra


async def win_opportunity(
    actor: Actor, opportunity_id: int, expected_version: int | None = None
) -> dict[str, Any]:
    """Close as won: the deal enters the won stage (through the same transition rules)."""
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version)
        _require_open(row)
        pipeline, stages = await _context(actor, row)
        won = next((s for s in stages if s["is_won"]), None)
        if won is None:
            raise _rule("NO_WON_STAGE", "The pipeline has no won stage", "id")
        await check_transition(pipeline, stages, row, won)
        return await _transition(
            actor,
            row,
            won,
            t.HistoryKind.won.value,
            {**_closing(row, WON), "lost_reason": "", "lost_note": ""},
        )


async def lose_opportunity(
    actor: Actor,
    opportunity_id: int,
    reason: str,
    note: str = "",
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Close as lost with one of the configured lost reasons; from any open stage."""
    reasons = config().lost_reasons
    if reason not in reasons:
        raise ValidationFailed(
            FieldError("reason", f"reason must be one of {', '.join(reasons)}", "INVALID_CHOICE")
        )
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version)
        _require_open(row)
        _, stages = await _context(actor, row)
        lost = next((s for s in stages if s["is_closed"] and not s["is_won"]), None)
        target = lost or next(s for s in stages if s["id"] == row["stage"])
        return await _transition(
            actor,
            row,
            target,
            t.HistoryKind.lost.value,
            {**_closing(row, LOST), "lost_reason": reason, "lost_note": note or ""},
            note=note,
        )


async def reopen_opportunity(
    actor: Actor, opportunity_id: int, expected_version: int | None = None
) -> dict[str, Any]:
    """Reopen a won or lost deal in the stage it was closed from."""
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version)
        if row["status"] == OPEN:
            raise _rule("OPPORTUNITY_OPEN", "The opportunity is open already", "id")
        h = t.StageChange
        closing = (
            await h.select(h.from_stage)
            .where(h.opportunity == opportunity_id, h.kind.is_in(["won", "lost"]))
            .order_by(h.id, ascending=False)
            .first()
        )
        _, stages = await _context(actor, row)
        back = next(
            (
                s
                for s in stages
                if closing and s["id"] == closing["from_stage"] and not s["is_closed"]
            ),
            None,
        )
        back = back or next(s for s in stages if not s["is_closed"])
        return await _transition(
            actor,
            row,
            back,
            t.HistoryKind.reopened.value,
            {
                "status": OPEN,
                "closed_at": None,
                "cycle_seconds": None,
                "lost_reason": "",
                "lost_note": "",
            },
        )


async def set_kanban_position(actor: Actor, opportunity_id: int, position: int) -> dict:
    """Put the opportunity at ``position`` (0-based) within its stage's column."""
    if position < 0:
        raise ValidationFailed(FieldError("position", "position must be ≥ 0", "INVALID"))
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        o = t.Opportunity
        column = (
            await o.select(o.id, o.kanban_position)
            .where(o.stage == row["stage"])
            .order_by(o.kanban_position, o.id)
        )
        ids = [r["id"] for r in column if r["id"] != opportunity_id]
        ids.insert(min(position, len(ids)), opportunity_id)
        old = {r["id"]: r["kanban_position"] for r in column}
        for index, oid in enumerate(ids):
            if old.get(oid) != index:
                await o.update({o.kanban_position: index}).where(o.id == oid)
        after = await get_opportunity(actor, opportunity_id)
        await record(
            actor,
            "reordered",
            "opportunity",
            opportunity_id,
            {"kanban_position": row["kanban_position"]},
            {"kanban_position": after["kanban_position"]},
            customer_id=row["customer"],
        )
    return after


# -- team, line items, needs ----------------------------------------------------------------


async def add_team_member(actor: Actor, opportunity_id: int, user_id: int, role: str) -> dict:
    errors: list[FieldError] = []
    if role not in {r.value for r in t.TeamRole}:
        errors.append(FieldError("role", "role must be one of am, ts, sc, bd", "INVALID_CHOICE"))
    await _check_user(user_id, "userId", errors)
    raise_if(errors)
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        m = t.TeamMember
        if await m.exists().where(m.opportunity == opportunity_id, m.user == user_id):
            await m.update({m.role: role}).where(m.opportunity == opportunity_id, m.user == user_id)
        else:
            await m.insert(m(opportunity=opportunity_id, user=user_id, role=role))
        await record(
            actor,
            "team_member_set",
            "opportunity",
            opportunity_id,
            None,
            {"user": user_id, "role": role},
            customer_id=row["customer"],
        )
    return row


async def remove_team_member(actor: Actor, opportunity_id: int, user_id: int) -> dict:
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        m = t.TeamMember
        await m.delete().where(m.opportunity == opportunity_id, m.user == user_id)
        await record(
            actor,
            "team_member_removed",
            "opportunity",
            opportunity_id,
            {"user": user_id},
            None,
            customer_id=row["customer"],
        )
    return row


async def add_line_item(
    actor: Actor, opportunity_id: int, product: str, quantity: int, unit_price: Money
) -> dict[str, Any]:
    errors: list[FieldError] = []
    product, err = require_text(product, "product", 255)
    errors += [err] if err else []
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        errors.append(FieldError("quantity", "quantity must be a positive integer", "INVALID"))
    if unit_price.minor < 0:
        errors.append(FieldError("unitPrice", "unitPrice must not be negative", "INVALID"))
    raise_if(errors)
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        if unit_price.currency != row["currency"]:
            raise ValidationFailed(
                FieldError(
                    "unitPrice",
                    f"Line items are in the opportunity's currency {row['currency']}",
                    "CURRENCY_MISMATCH",
                )
            )
        position = await t.LineItem.count().where(t.LineItem.opportunity == opportunity_id)
        item = (
            await t.LineItem.insert(
                t.LineItem(
                    opportunity=opportunity_id,
                    product=product,
                    quantity=quantity,
                    unit_price_minor=unit_price.minor,
                    currency=unit_price.currency,
                    position=position,
                )
            ).returning(*t.LineItem.all_columns())
        )[0]
        await record(
            actor,
            "line_item_added",
            "opportunity",
            opportunity_id,
            None,
            item,
            customer_id=row["customer"],
        )
    return item


def line_total(item: dict[str, Any]) -> Money:
    return Money(item["unit_price_minor"] * item["quantity"], item["currency"])


async def remove_line_item(actor: Actor, item_id: int) -> dict[str, Any]:
    item = await t.LineItem.select().where(t.LineItem.id == item_id).first()
    if item is None:
        raise NotFound(f"Line item {item_id} not found")
    async with unit_of_work():
        row = await _lock(actor, item["opportunity"], None)
        await t.LineItem.delete().where(t.LineItem.id == item_id)
        await record(
            actor,
            "line_item_removed",
            "opportunity",
            row["id"],
            item,
            None,
            customer_id=row["customer"],
        )
    return row


async def add_need(
    actor: Actor, opportunity_id: int, description: str, impact: int, difficulty: int, urgency: int
) -> dict[str, Any]:
    errors: list[FieldError] = []
    description, err = require_text(description, "description", 4000)
    errors += [err] if err else []
    for name, value in (("impact", impact), ("difficulty", difficulty), ("urgency", urgency)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            errors.append(FieldError(name, f"{name} is scored 1..5", "INVALID"))
    raise_if(errors)
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        need = (
            await t.Need.insert(
                t.Need(
                    opportunity=opportunity_id,
                    description=description,
                    impact=impact,
                    difficulty=difficulty,
                    urgency=urgency,
                )
            ).returning(*t.Need.all_columns())
        )[0]
        await record(
            actor,
            "need_added",
            "opportunity",
            opportunity_id,
            None,
            need,
            customer_id=row["customer"],
        )
    return need


async def remove_need(actor: Actor, need_id: int) -> dict[str, Any]:
    need = await t.Need.select().where(t.Need.id == need_id).first()
    if need is None:
        raise NotFound(f"Need {need_id} not found")
    async with unit_of_work():
        row = await _lock(actor, need["opportunity"], None)
        await t.Need.delete().where(t.Need.id == need_id)
        await record(
            actor, "need_removed", "opportunity", row["id"], need, None, customer_id=row["customer"]
        )
    return row


async def log_opportunity_activity(
    actor: Actor, opportunity_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Log (or plan) an activity on a visible opportunity's customer, linked to the deal
    (core's ``related_type="opportunity"``)."""
    from kehu.core.services.activities import log_activity

    async with unit_of_work():
        row = await get_opportunity(actor, opportunity_id)
        return await log_activity(
            actor,
            row["customer"],
            {**data, "related_type": "opportunity", "related_id": opportunity_id},
        )


# -- leads ------------------------------------------------------------------------------------

LEAD_FIELDS = {
    "name",
    "company",
    "email",
    "phone",
    "title",
    "source",
    "industry",
    "size",
    "notes",
    "factors",
    "owner",
}


def lead_score(factors: dict[str, int], weights: dict[str, Decimal] | None = None) -> int:
    """Σ weight × factor score (factor scores 0..100), ROUND_HALF_UP to an integer."""
    weights = weights if weights is not None else config().lead_scoring_weights
    total = sum(
        (Decimal(str(weights[k])) * int(v) for k, v in factors.items() if k in weights), Decimal(0)
    )
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def clean_lead(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - LEAD_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown lead field(s): {', '.join(sorted(unknown))}")
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        out["name"], err = require_text(data.get("name"), "name", 200)
        errors += [err] if err else []
    for name, limit in (
        ("company", 255),
        ("title", 100),
        ("source", 50),
        ("industry", 100),
        ("size", 50),
    ):
        if name in data:
            out[name] = (data[name] or "").strip()
            if len(out[name]) > limit:
                errors.append(
                    FieldError(name, f"{name} is longer than {limit} characters", "TOO_LONG")
                )
    if "notes" in data:
        out["notes"] = data["notes"] or ""
    if "email" in data:
        out["email"], err = clean_email(data["email"])
        errors += [err] if err else []
    if "phone" in data:
        out["phone"], err = clean_phone(data["phone"])
        errors += [err] if err else []
    if "factors" in data:
        factors = data["factors"] or {}
        weights = config().lead_scoring_weights
        if not isinstance(factors, dict):
            errors.append(FieldError("factors", "factors must be an object", "INVALID"))
            factors = {}
        for key, value in factors.items():
            if key not in weights:
                errors.append(
                    FieldError(
                        "factors",
                        f"Unknown scoring factor {key!r}; configured: {', '.join(weights)}",
                        "INVALID",
                    )
                )
            elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                errors.append(FieldError("factors", f"Factor {key!r} is scored 0..100", "INVALID"))
        out["factors"] = {k: v for k, v in factors.items() if k in weights}
    if "owner" in data:
        out["owner"] = data["owner"]
    raise_if(errors)
    if "company" in out or "name" in out:
        pass
    return out


def _lead_key(values: dict[str, Any]) -> str:
    return name_key(values.get("company") or values.get("name") or "")


@dataclass
class LeadDuplicates:
    leads: list[dict[str, Any]]
    customers: list[customer_service.Duplicate]

    def __bool__(self) -> bool:
        return bool(self.leads or self.customers)


async def find_lead_duplicates(
    values: dict[str, Any], exclude_id: int | None = None
) -> LeadDuplicates:
    """Open leads and active customers matching by normalised company/name, e-mail or phone
    (core's normalisation: ``name_key``, ``clean_email``, ``clean_phone``)."""
    probe = {
        "name_key": values.get("name_key"),
        "email": values.get("email"),
        "phone": values.get("phone"),
    }
    customers = await customer_service.find_duplicates(probe)
    checks = [
        (t.Lead.name_key, probe["name_key"]),
        (t.Lead.email, probe["email"]),
        (t.Lead.phone, probe["phone"]),
    ]
    checks = [(c, v) for c, v in checks if v]
    leads: list[dict[str, Any]] = []
    if checks:
        condition = checks[0][0] == checks[0][1]
        for column, value in checks[1:]:
            condition = condition | (column == value)
        query = t.Lead.select(t.Lead.id, t.Lead.name, t.Lead.company, t.Lead.owner).where(
            condition, t.Lead.status.is_in([t.LeadStatus.new.value, t.LeadStatus.qualified.value])
        )
        if exclude_id is not None:
            query = query.where(t.Lead.id != exclude_id)
        leads = await query.order_by(t.Lead.id).limit(20)
    return LeadDuplicates(leads, customers)


async def _lead_dup_error(actor: Actor, dups: LeadDuplicates) -> ValidationFailed:
    if dups.leads:
        lead = dups.leads[0]
        what = f"lead {lead['id']} ({lead['company'] or lead['name']})"
    else:
        first = dups.customers[0]
        visible = await customer_service.visible_customer_ids(actor, [first.customer_id])
        what = (
            f"customer {first.customer_id} ({first.name})"
            if visible
            else "a customer of another owner"
        )
    return ValidationFailed(
        FieldError(
            "name",
            f"Possible duplicate of {what}; pass allowDuplicate to create anyway",
            "DUPLICATE",
        )
    )


async def get_lead(actor: Actor, lead_id: int) -> dict[str, Any]:
    actor.require("lead:read")
    query = t.Lead.select().where(t.Lead.id == lead_id)
    scope = lead_scope(actor)
    if scope is not None:
        query = query.where(scope)
    row = await query.first()
    if row is None:
        raise NotFound(f"Lead {lead_id} not found")
    row["factors"] = load_json(row["factors"])
    return row


async def create_lead(
    actor: Actor, data: dict[str, Any], *, allow_duplicate: bool = False
) -> dict[str, Any]:
    actor.require("lead:write")
    values = clean_lead(data, partial=False)
    values["name_key"] = _lead_key(values)
    values["score"] = lead_score(values.get("factors", {}))
    errors: list[FieldError] = []
    owner_id = values.pop("owner", None) or actor.user_id
    if owner_id != actor.user_id:
        actor.require("opportunity:assign")
    owner = await _check_user(owner_id, "ownerId", errors)
    raise_if(errors)
    async with unit_of_work():
        if not allow_duplicate:
            dups = await find_lead_duplicates(values)
            if dups:
                raise await _lead_dup_error(actor, dups)
        row = (
            await t.Lead.insert(
                t.Lead(
                    **values,
                    owner=owner_id,
                    team=owner["team"] if owner else None,
                )
            ).returning(*t.Lead.all_columns())
        )[0]
        await record(actor, "created", "lead", row["id"], after=row)
    row["factors"] = load_json(row["factors"])
    return row


async def _lead_save(
    lead: dict[str, Any], values: dict[str, Any], expected_version: int | None
) -> dict[str, Any]:
    query = t.Lead.update(
        {**values, t.Lead.version: t.Lead.version + 1, t.Lead.updated_at: now()}
    ).where(t.Lead.id == lead["id"])
    query = query.where(
        t.Lead.version == (expected_version if expected_version is not None else lead["version"])
    )
    rows = await query.returning(*t.Lead.all_columns())
    if not rows:
        raise Conflict(f"Lead {lead['id']} was changed by someone else; reload and retry")
    rows[0]["factors"] = load_json(rows[0]["factors"])
    return rows[0]


def _require_workable(lead: dict[str, Any]) -> None:
    if lead["status"] in (t.LeadStatus.converted.value, t.LeadStatus.disqualified.value):
        raise ValidationFailed(FieldError("id", f"The lead is {lead['status']}", "LEAD_CLOSED"))


async def update_lead(
    actor: Actor, lead_id: int, expected_version: int, data: dict[str, Any]
) -> dict[str, Any]:
    actor.require("lead:write")
    values = clean_lead(data, partial=True)
    async with unit_of_work():
        lead = await get_lead(actor, lead_id)
        _require_workable(lead)
        if "owner" in values and values["owner"] != lead["owner"]:
            actor.require("opportunity:assign")
            errors: list[FieldError] = []
            owner = await _check_user(values["owner"], "ownerId", errors)
            raise_if(errors)
            values["team"] = owner["team"] if owner else None
        if {"name", "company"} & set(values):
            values["name_key"] = _lead_key({**lead, **values})
        if "factors" in values:
            values["score"] = lead_score(values["factors"])
        after = await _lead_save(lead, values, expected_version)
        changed = [k for k in values if after[k] != lead[k]]
        await record(
            actor,
            "updated",
            "lead",
            lead_id,
            {k: lead[k] for k in changed},
            {k: after[k] for k in changed},
        )
    return after


async def qualify_lead(actor: Actor, lead_id: int) -> dict[str, Any]:
    actor.require("lead:write")
    async with unit_of_work():
        lead = await get_lead(actor, lead_id)
        _require_workable(lead)
        after = await _lead_save(
            lead, {"status": t.LeadStatus.qualified.value, "disqualify_reason": ""}, None
        )
        await record(
            actor,
            "qualified",
            "lead",
            lead_id,
            {"status": lead["status"]},
            {"status": after["status"]},
        )
    return after


async def disqualify_lead(actor: Actor, lead_id: int, reason: str) -> dict[str, Any]:
    actor.require("lead:write")
    reason, err = require_text(reason, "reason", 255)
    raise_if([err] if err else [])
    async with unit_of_work():
        lead = await get_lead(actor, lead_id)
        _require_workable(lead)
        after = await _lead_save(
            lead, {"status": t.LeadStatus.disqualified.value, "disqualify_reason": reason}, None
        )
        await record(
            actor,
            "disqualified",
            "lead",
            lead_id,
            {"status": lead["status"]},
            {"status": after["status"], "reason": reason},
        )
    return after


@dataclass
class Conversion:
    lead: dict[str, Any]
    customer: dict[str, Any]
    contact: dict[str, Any] | None
    opportunity: dict[str, Any] | None
    reused_customer: bool


async def convert_lead(
    actor: Actor,
    lead_id: int,
    *,
    opportunity: dict[str, Any] | None = None,
    create_opportunity_too: bool = True,
    customer_id: int | None = None,
) -> Conversion:
    """Convert a lead into customer + contact + opportunity in ONE unit of work: any failure
    leaves nothing behind. An existing customer matching the lead (same rules as core dedup)
    is reused when the actor may see it; a match the actor may not see is a DUPLICATE
    error (ask a manager to hand it over)."""
    actor.require("lead:convert")
    async with unit_of_work():
        lead = await get_lead(actor, lead_id)
        _require_workable(lead)
        # the lead's owner keeps the account when the actor may assign it (a manager
        # converting a rep's lead); otherwise the converting user owns it
        owner = (
            lead["owner"]
            if lead["owner"] is not None
            and (lead["owner"] == actor.user_id or actor.can("customer:reassign"))
            else actor.user_id
        )
        reused = False
        if customer_id is not None:
            customer = await get_customer(actor, customer_id)
            if customer["archived_at"] is not None:
                raise ValidationFailed(FieldError("customerId", "Customer is archived", "ARCHIVED"))
            reused = True
        else:
            dups = await customer_service.find_duplicates(
                {"name_key": lead["name_key"], "email": lead["email"], "phone": lead["phone"]}
            )
            customer = None
            if dups:
                found = await customer_service.customers_by_ids(actor, [dups[0].customer_id])
                if not found:
                    raise ValidationFailed(
                        FieldError(
                            "id",
                            "The lead matches a customer of another owner; ask a manager "
                            "to hand it over",
                            "DUPLICATE",
                        )
                    )
                customer, reused = found[dups[0].customer_id], True
            else:
                customer = await customer_service.create_customer(
                    actor,
                    {
                        "name": lead["company"] or lead["name"],
                        "kind": "organization" if lead["company"] else "person",
                        "email": lead["email"] if not lead["company"] else "",
                        "phone": lead["phone"] if not lead["company"] else "",
                        "industry": lead["industry"],
                        "size": lead["size"],
                        "source": lead["source"],
                        "lifecycle_stage": "potential",
                        "owner": owner,
                    },
                )
        contact = None
        if lead["company"]:
            contact = await contact_service.create_contact(
                actor,
                customer["id"],
                {
                    "name": lead["name"],
                    "title": lead["title"],
                    "email": lead["email"],
                    "phone": lead["phone"],
                    "is_primary": not reused,
                },
            )
        opp = None
        if create_opportunity_too:
            data = {
                "name": f"{customer['name']}: {lead['name']}",
                "source": lead["source"],
                **(opportunity or {}),
                "customer": customer["id"],
            }
            if owner != actor.user_id and actor.can("opportunity:assign"):
                data.setdefault("owner", owner)
            opp = await create_opportunity(actor, data, lead_id=lead_id)
        after = await _lead_save(
            lead,
            {
                "status": t.LeadStatus.converted.value,
                "customer": customer["id"],
                "contact": contact["id"] if contact else None,
                "opportunity_id": opp["id"] if opp else None,
                "converted_at": now(),
            },
            None,
        )
        await record(
            actor,
            "converted",
            "lead",
            lead_id,
            {"status": lead["status"]},
            {
                "status": after["status"],
                "customer": customer["id"],
                "contact": contact["id"] if contact else None,
                "opportunity": opp["id"] if opp else None,
                "reused_customer": reused,
            },
            customer_id=customer["id"],
        )
    return Conversion(after, customer, contact, opp, reused)


async def list_leads(
    actor: Actor,
    *,
    status: str | None = None,
    first: int = 20,
    after: str | None = None,
    customer_id: int | None = None,
) -> Page:
    actor.require("lead:read")
    query = t.Lead.select()
    scope = lead_scope(actor)
    if scope is not None:
        query = query.where(scope)
    if status is not None:
        query = query.where(t.Lead.status == status)
    if customer_id is not None:
        query = query.where(t.Lead.customer == customer_id)
    page = await keyset_page(
        query,
        sort=t.Lead.created_at,
        pk=t.Lead.id,
        descending=True,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )
    for r in page.rows:
        r["factors"] = load_json(r["factors"])
    return page


async def leads_by_customer(
    actor: Actor, customer_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in customer_ids}
    if not customer_ids or not actor.can("lead:read"):
        return out
    query = t.Lead.select().where(t.Lead.customer.is_in(list(set(customer_ids))))
    scope = lead_scope(actor)
    if scope is not None:
        query = query.where(scope)
    for r in await query.order_by(t.Lead.created_at, t.Lead.id, ascending=False):
        r["factors"] = load_json(r["factors"])
        out[r["customer"]].append(r)
    return out


# -- forecast ---------------------------------------------------------------------------------


@dataclass
class ForecastRow:
    key: str  # the forecast category, owner id or team id (as text), or "all"
    currency: str
    count: int
    total: Money
    weighted: Money


GROUPS = {
    "category": t.Opportunity.forecast_category,
    "owner": t.Opportunity.owner,
    "team": t.Opportunity.team,
    "month": t.Opportunity.expected_close_date,
    "quarter": t.Opportunity.expected_close_date,
}


def _period_key(group_by: str, value: Any) -> str:
    if value is None:
        return ""
    if group_by == "month":
        return f"{value:%Y-%m}"
    if group_by == "quarter":
        return f"{value.year}-Q{(value.month - 1) // 3 + 1}"
    return str(value)


async def forecast(
    actor: Actor,
    *,
    period_start: date | None = None,
    period_end: date | None = None,
    group_by: str = "category",
    owner_id: int | None = None,
    team_id: int | None = None,
    pipeline_id: int | None = None,
) -> list[ForecastRow]:
    """Weighted pipeline Σ amount × probability of visible open and won deals whose expected
    close date is in ``[period_start, period_end)``, per forecast category, owner, team,
    month or quarter (of the expected close date) and currency; lost deals contribute 0
    (excluded). Aggregated in SQL (periods: per close date, folded into months/quarters);
    weighted sums are exact integers rounded once, half up."""
    actor.require("forecast:read")
    if group_by not in GROUPS:
        raise ValidationFailed(
            FieldError("groupBy", f"groupBy is one of {', '.join(GROUPS)}", "INVALID_CHOICE")
        )
    o = t.Opportunity
    column = GROUPS[group_by]
    query = o.select(
        column,
        o.currency,
        Count(alias="n"),
        Sum(o.amount_minor, alias="total"),
        Sum(o.weighted_basis, alias="basis"),
    ).where(o.status != LOST)
    query = _filtered(
        query,
        actor,
        OpportunityFilter(
            owner_id=owner_id,
            team_id=team_id,
            pipeline_id=pipeline_id,
            close_after=period_start,
            close_before=period_end,
        ),
    )
    rows = await query.group_by(column, o.currency)
    name = column._meta.name
    sums: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        acc = sums.setdefault((_period_key(group_by, r[name]), r["currency"]), [0, 0, 0])
        acc[0] += _int(r["n"])
        acc[1] += _int(r["total"])
        acc[2] += _int(r["basis"])
    out = [
        ForecastRow(key, cur, n, Money(total, cur), weighted(basis, cur))
        for (key, cur), (n, total, basis) in sums.items()
    ]
    order = [c.value for c in t.ForecastCategory]
    return sorted(
        out, key=lambda r: (order.index(r.key) if r.key in order else 99, r.key, r.currency)
    )


def quarter(day: date) -> tuple[date, date]:
    start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    end = date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return start, end


async def take_forecast_snapshot(
    period_start: date | None = None, period_end: date | None = None
) -> dict[str, Any]:
    """Store the forecast as of now (all opportunities, per owner, team, category and
    currency) for the period (default: the current quarter)."""
    if period_start is None or period_end is None:
        period_start, period_end = quarter(now().date())
    o = t.Opportunity
    rows = (
        await o.select(
            o.owner,
            o.team,
            o.forecast_category,
            o.currency,
            Count(alias="n"),
            Sum(o.amount_minor, alias="total"),
            Sum(o.weighted_basis, alias="basis"),
        )
        .where(
            o.status != LOST,
            o.expected_close_date >= period_start,
            o.expected_close_date < period_end,
        )
        .group_by(o.owner, o.team, o.forecast_category, o.currency)
    )
    async with unit_of_work():
        snap = (
            await t.ForecastSnapshot.insert(
                t.ForecastSnapshot(taken_at=now(), period_start=period_start, period_end=period_end)
            ).returning(*t.ForecastSnapshot.all_columns())
        )[0]
        if rows:
            await t.ForecastSnapshotLine.insert(
                *[
                    t.ForecastSnapshotLine(
                        snapshot=snap["id"],
                        owner=r["owner"],
                        team=r["team"],
                        forecast_category=r["forecast_category"],
                        currency=r["currency"],
                        deals=_int(r["n"]),
                        total_minor=_int(r["total"]),
                        weighted_basis=_int(r["basis"]),
                    )
                    for r in rows
                ]
            )
        await record(
            system_actor(),
            "snapshot",
            "forecast",
            snap["id"],
            after={"period_start": period_start, "period_end": period_end, "lines": len(rows)},
        )
    return snap


@dataclass
class ForecastComparison:
    snapshot_id: int
    taken_at: datetime
    period_start: date
    period_end: date
    currency: str
    forecast_weighted: Money
    forecast_commit: Money  # commit + closed categories at full amount
    actual_won: Money

    @property
    def variance(self) -> Money:
        return self.actual_won - self.forecast_weighted


async def forecast_vs_actual(actor: Actor, snapshot_id: int) -> list[ForecastComparison]:
    """What was forecast in the snapshot vs what was actually won in its period, per
    currency, over the owners/teams the actor may see."""
    actor.require("forecast:read")
    snap = await t.ForecastSnapshot.select().where(t.ForecastSnapshot.id == snapshot_id).first()
    if snap is None:
        raise NotFound(f"Forecast snapshot {snapshot_id} not found")
    line = t.ForecastSnapshotLine
    query = line.select(
        line.currency,
        line.forecast_category,
        Sum(line.weighted_basis, alias="basis"),
        Sum(line.total_minor, alias="total"),
    ).where(line.snapshot == snapshot_id)
    scope = owner_team_scope(actor, line.owner, line.team)
    if scope is not None:
        query = query.where(scope)
    lines = await query.group_by(line.currency, line.forecast_category)
    o = t.Opportunity
    start = datetime.combine(snap["period_start"], time(), UTC)
    end = datetime.combine(snap["period_end"], time(), UTC)
    won_query = _visible(
        o.select(o.currency, Sum(o.amount_minor, alias="total")).where(
            o.status == WON, o.closed_at >= start, o.closed_at < end
        ),
        actor,
    )
    if scope is not None:
        won_query = won_query.where(owner_team_scope(actor, o.owner, o.team))
    won = {r["currency"]: _int(r["total"]) for r in await won_query.group_by(o.currency)}
    currencies = sorted({r["currency"] for r in lines} | set(won))
    out = []
    for cur in currencies:
        basis = sum(_int(r["basis"]) for r in lines if r["currency"] == cur)
        commit = sum(
            _int(r["total"])
            for r in lines
            if r["currency"] == cur and r["forecast_category"] in ("commit", "closed")
        )
        out.append(
            ForecastComparison(
                snap["id"],
                snap["taken_at"],
                snap["period_start"],
                snap["period_end"],
                cur,
                weighted(basis, cur),
                Money(commit, cur),
                Money(won.get(cur, 0), cur),
            )
        )
    return out


async def list_snapshots(actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
    actor.require("forecast:read")
    return (
        await t.ForecastSnapshot.select()
        .order_by(t.ForecastSnapshot.taken_at, t.ForecastSnapshot.id, ascending=False)
        .limit(limit)
    )


def _period_snapshot(snapshots: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of the snapshots of one period: the latest taken before the period started, else the
    earliest taken during it (one taken after the period ended is no forecast: ignored)."""
    start = datetime.combine(snapshots[0]["period_start"], time(), UTC)
    end = datetime.combine(snapshots[0]["period_end"], time(), UTC)
    before = [s for s in snapshots if s["taken_at"] < start]
    if before:
        return max(before, key=lambda s: (s["taken_at"], s["id"]))
    during = [s for s in snapshots if s["taken_at"] < end]
    return min(during, key=lambda s: (s["taken_at"], s["id"])) if during else None


async def period_snapshots(
    since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    """The snapshot that stands for each forecast period (``period_start`` … ``period_end``)
    starting in ``[since, until)``, chosen by :func:`_period_snapshot`."""
    s = t.ForecastSnapshot
    query = s.select()
    if since is not None:
        query = query.where(s.period_start >= since)
    if until is not None:
        query = query.where(s.period_start < until)
    periods: dict[tuple[date, date], list[dict[str, Any]]] = {}
    for row in await query:
        periods.setdefault((row["period_start"], row["period_end"]), []).append(row)
    chosen = (_period_snapshot(rows) for _, rows in sorted(periods.items()))
    return [row for row in chosen if row is not None]


# -- metrics (aggregated in SQL, visibility applied) ------------------------------------------

OPP = "pipeline_opportunity"


@dataclass
class FunnelStage:
    stage_id: int
    name: str
    position: int
    reached: int  # opportunities that ever entered the stage
    current: int  # open opportunities in it now
    conversion: Decimal | None  # share of ``reached`` that reached the next stage


def _ratio(part: int, whole: int, places: str = "0.0001") -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def percent(part: int, whole: int) -> Decimal | None:
    """``part ÷ whole × 100`` to 0.01, half up (``None`` over zero)."""
    return _ratio(part * 100, whole, "0.01")


def days(seconds: int, count: int) -> Decimal | None:
    """Mean days of ``count`` durations summing to ``seconds``, to 0.01, half up."""
    return _ratio(seconds, count * 86400, "0.01")


def money_ratio(minor: int, divisor: int, currency: str) -> Money | None:
    """``minor ÷ divisor`` as Money, rounded once, half up, to the minor unit."""
    if not divisor:
        return None
    value = (Decimal(minor) / Decimal(divisor)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Money(int(value), currency)


def _visible_ids(actor: Actor, pipeline_id: int | None = None) -> Any:
    query = _visible(t.Opportunity.select(t.Opportunity.id), actor)
    if pipeline_id is not None:
        query = query.where(t.Opportunity.pipeline == pipeline_id)
    return query


def _opportunity_conditions(
    actor: Actor,
    *,
    owner_id: int | None = None,
    team_id: int | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[QueryString]:
    """Raw-SQL conditions on ``pipeline_opportunity``: the actor's visibility, owner, team
    and a creation window ``[created_from, created_to)``."""
    scope = opportunity_scope(actor)
    out = [] if scope is None else [scope.querystring]
    for column, value in (("owner", owner_id), ("team", team_id)):
        if value is not None:
            out.append(QueryString(f"{OPP}.{column} = {{}}", value))
    if created_from is not None:
        out.append(QueryString(f"{OPP}.created_at >= {{}}", created_from))
    if created_to is not None:
        out.append(QueryString(f"{OPP}.created_at < {{}}", created_to))
    return out


async def _stage_counts(
    sql: str, opportunity: str, conditions: list[QueryString]
) -> dict[int, int]:
    """Run ``sql`` (``SELECT ... AS stage, ... AS n ... WHERE ...{where} GROUP BY ...``) over
    the deals matching ``conditions``: ``opportunity IN (SELECT id ... WHERE conditions)``, a
    semi-join that stays cheap when the conditions pick few deals (a rep, a team, a cohort)."""
    where = ""
    if conditions:
        where = (
            f" AND {opportunity} IN (SELECT {OPP}.id FROM {OPP} WHERE "
            + " AND ".join("{}" for _ in conditions)
            + ")"
        )
    rows = await t.StageChange.raw(sql.replace("{where}", where), *conditions)
    return {r["stage"]: _int(r["n"]) for r in rows}


async def funnel(
    actor: Actor,
    pipeline_id: int,
    *,
    owner_id: int | None = None,
    team_id: int | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[FunnelStage]:
    """Per open/won stage: how many visible deals (of an owner/team, created in
    ``[created_from, created_to)``: a cohort) ever reached it, how many of them are in it now,
    and the stage conversion (reached next ÷ reached this).

    Two aggregates by the pipeline's stage ids: over the stage history (the covering index
    ``(to_stage, opportunity)`` answers it alone without conditions) and over the open deals
    (index ``(stage, status)``)."""
    actor.require("forecast:read")
    all_stages = (await stages_by_pipeline([pipeline_id]))[pipeline_id]
    if not all_stages:
        raise NotFound(f"Pipeline {pipeline_id} not found")
    stages = [s for s in all_stages if not s["is_closed"] or s["is_won"]]
    ids = ", ".join(str(int(s["id"])) for s in stages)
    conditions = _opportunity_conditions(
        actor, owner_id=owner_id, team_id=team_id, created_from=created_from, created_to=created_to
    )
    reached = await _stage_counts(
        "SELECT h.to_stage AS stage, COUNT(DISTINCT h.opportunity) AS n FROM "
        f"pipeline_stage_change h WHERE h.to_stage IN ({ids}){{where}} GROUP BY h.to_stage",
        "h.opportunity",
        conditions,
    )
    now_in = await _stage_counts(
        "SELECT o.stage AS stage, COUNT(*) AS n FROM pipeline_opportunity o WHERE o.stage IN "
        f"({ids}) AND o.status = '{OPEN}'{{where}} GROUP BY o.stage",
        "o.id",
        conditions,
    )
    out = []
    for i, s in enumerate(stages):
        nxt = stages[i + 1] if i + 1 < len(stages) else None
        conv = _ratio(reached.get(nxt["id"], 0), reached.get(s["id"], 0)) if nxt else None
        out.append(
            FunnelStage(
                s["id"],
                s["name"],
                s["position"],
                reached.get(s["id"], 0),
                now_in.get(s["id"], 0),
                conv,
            )
        )
    return out


@dataclass
class WinRate:
    won: int
    lost: int
    rate: Decimal | None


async def win_rate(
    actor: Actor,
    *,
    pipeline_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> WinRate:
    actor.require("forecast:read")
    o = t.Opportunity
    query = _visible(o.select(o.status, Count(alias="n")).where(o.status.is_in([WON, LOST])), actor)
    if pipeline_id is not None:
        query = query.where(o.pipeline == pipeline_id)
    if since is not None:
        query = query.where(o.closed_at >= since)
    if until is not None:
        query = query.where(o.closed_at < until)
    counts = {r["status"]: _int(r["n"]) for r in await query.group_by(o.status)}
    won, lost = counts.get(WON, 0), counts.get(LOST, 0)
    return WinRate(won, lost, _ratio(won, won + lost))


async def average_deal_cycle_days(
    actor: Actor, *, pipeline_id: int | None = None
) -> Decimal | None:
    """Mean days from creation to winning, over visible won deals (exact, 2 places)."""
    actor.require("forecast:read")
    o = t.Opportunity
    query = _visible(
        o.select(Count(o.cycle_seconds, alias="n"), Sum(o.cycle_seconds, alias="s")).where(
            o.status == WON
        ),
        actor,
    )
    if pipeline_id is not None:
        query = query.where(o.pipeline == pipeline_id)
    row = (await query)[0]
    return days(_int(row["s"]), _int(row["n"]))


async def average_time_in_stage(actor: Actor, pipeline_id: int) -> dict[int, Decimal]:
    """Mean days spent in each stage (completed stays only), per stage id."""
    actor.require("forecast:read")
    h = t.StageChange
    rows = (
        await h.select(h.to_stage, Count(alias="n"), Sum(h.seconds, alias="s"))
        .where(
            h.opportunity.is_in(_visible_ids(actor, pipeline_id)),
            h.seconds.is_not_null(),
        )
        .group_by(h.to_stage)
    )
    return {r["to_stage"]: days(_int(r["s"]), _int(r["n"])) for r in rows if _int(r["n"])}


@dataclass
class Velocity:
    currency: str
    open_deals: int
    average_won_amount: Money | None
    win_rate: Decimal | None  # a fraction (0.5 = 50%)
    cycle_days: Decimal | None
    per_day: Money | None  # open deals × average won amount × win rate ÷ cycle days


def velocity(
    currency: str,
    open_deals: int,
    won: int,
    lost: int,
    won_minor: int,
    won_seconds: int,
    cycled: int,
) -> Velocity:
    """Sales velocity from the aggregates of one group: ``won`` deals worth ``won_minor``,
    ``cycled`` of them with a cycle, summing ``won_seconds``. Exact up to one rounding:
    open × (won_minor ÷ won) × (won ÷ (won + lost)) ÷ (won_seconds ÷ cycled ÷ 86400)."""
    per_day = None
    if won and won_seconds:
        per_day = money_ratio(
            open_deals * won_minor * cycled * 86400, (won + lost) * won_seconds, currency
        )
    return Velocity(
        currency,
        open_deals,
        money_ratio(won_minor, won, currency),
        _ratio(won, won + lost),
        days(won_seconds, cycled),
        per_day,
    )


async def pipeline_velocity(
    actor: Actor, *, currency: str, pipeline_id: int | None = None
) -> Velocity:
    """Sales velocity = #open deals × average won deal size × win rate ÷ average cycle."""
    actor.require("forecast:read")
    currency = check_currency(currency)
    o = t.Opportunity
    base = _visible(
        o.select(
            o.status,
            Count(alias="n"),
            Sum(o.amount_minor, alias="total"),
            Sum(o.cycle_seconds, alias="s"),
            Count(o.cycle_seconds, alias="cycled"),
        ).where(o.currency == currency),
        actor,
    )
    if pipeline_id is not None:
        base = base.where(o.pipeline == pipeline_id)
    stats = {r["status"]: r for r in await base.group_by(o.status)}
    won = stats.get(WON, {})
    return velocity(
        currency,
        _int(stats.get(OPEN, {}).get("n")),
        _int(won.get("n")),
        _int(stats.get(LOST, {}).get("n")),
        _int(won.get("total")),
        _int(won.get("s")),
        _int(won.get("cycled")),
    )


# -- stale deals ------------------------------------------------------------------------------

STALE_SUBJECT = "Stale deal"


async def remind_stale_deals(at: datetime | None = None) -> int:
    """Open deals with no stage move and no linked activity for the pipeline's
    ``stale_after_days`` get a planned task for their owner; never two open reminders."""
    at = at or now()
    actor = system_actor()
    o, p = t.Opportunity, t.Pipeline
    pipelines = await p.select(p.id, p.stale_after_days)
    count = 0
    for pipeline in pipelines:
        cutoff = at - timedelta(days=pipeline["stale_after_days"])
        recent = Activity.select(Activity.related_id).where(
            Activity.related_type == "opportunity", Activity.occurred_at >= cutoff
        )
        reminded = Activity.select(Activity.related_id).where(
            Activity.related_type == "opportunity",
            Activity.status == ActivityStatus.planned,
            Activity.subject.like(f"{STALE_SUBJECT}%"),
        )
        rows = (
            await o.select(o.id, o.name, o.customer, o.owner, o.stage_entered_at)
            .where(
                o.pipeline == pipeline["id"],
                o.status == OPEN,
                o.stage_entered_at < cutoff,
                o.id.not_in(recent),
                o.id.not_in(reminded),
            )
            .order_by(o.id)
        )
        from kehu.core.services.activities import log_activity

        for row in rows:
            days = (at - _aware(row["stage_entered_at"])).days
            await log_activity(
                actor,
                row["customer"],
                {
                    "kind": "task",
                    "status": "planned",
                    "due_at": at,
                    "subject": f"{STALE_SUBJECT}: {row['name']}"[:255],
                    "body": f"No stage move or activity for {days} days; follow up or update the "
                    "opportunity.",
                    "owner": row["owner"],
                    "related_type": "opportunity",
                    "related_id": row["id"],
                },
            )
            count += 1
    return count


# -- timeline, merge, handover ----------------------------------------------------------------


async def timeline_entries(
    actor: Actor, customer_id: int, before: datetime | None, limit: int
) -> list[TimelineEntry]:
    """Stage history of the customer's visible opportunities as timeline entries."""
    if not actor.can("opportunity:read"):
        return []
    h, o = t.StageChange, t.Opportunity
    opps = {
        r["id"]: r
        for r in await _visible(
            o.select(o.id, o.name, o.currency).where(o.customer == customer_id), actor
        )
    }
    if not opps:
        return []
    query = h.select().where(h.opportunity.is_in(list(opps)))
    if before is not None:
        query = query.where(h.at <= before)
    rows = await query.order_by(h.at, h.id, ascending=False).limit(limit)
    stages = await stages_by_ids(
        [r["to_stage"] for r in rows] + [r["from_stage"] for r in rows if r["from_stage"]]
    )
    out = []
    for r in rows:
        opp = opps[r["opportunity"]]
        to = stages[r["to_stage"]]["name"]
        frm = stages[r["from_stage"]]["name"] if r["from_stage"] in stages else None
        title = {
            "created": f"Opportunity {opp['name']} created in {to}",
            "won": f"Opportunity {opp['name']} won",
            "lost": f"Opportunity {opp['name']} lost",
            "reopened": f"Opportunity {opp['name']} reopened in {to}",
        }.get(r["kind"], f"Opportunity {opp['name']}: {frm} → {to}")
        out.append(
            TimelineEntry(
                at=r["at"],
                kind=f"opportunity.{r['kind']}",
                title=title,
                body=r["note"],
                source=PLUGIN,
                entity="opportunity",
                entity_id=r["opportunity"],
                actor_id=r["actor"],
                data={"from_stage": frm, "to_stage": to, "history_id": r["id"]},
            )
        )
    return out


async def merge_customers(actor: Actor, survivor_id: int, merged_id: int) -> None:
    """Re-point opportunities and leads of the merged customer (inside the merge's unit of
    work)."""
    moved = (
        await t.Opportunity.update({t.Opportunity.customer: survivor_id})
        .where(t.Opportunity.customer == merged_id)
        .returning(t.Opportunity.id)
    )
    leads = (
        await t.Lead.update({t.Lead.customer: survivor_id})
        .where(t.Lead.customer == merged_id)
        .returning(t.Lead.id)
    )
    if moved or leads:
        await record(
            actor,
            "customers_merged",
            "pipeline",
            None,
            None,
            {
                "merged_id": merged_id,
                "opportunities": [r["id"] for r in moved],
                "leads": [r["id"] for r in leads],
            },
            customer_id=survivor_id,
        )


async def reassign_customers(
    actor: Actor, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> None:
    """Handover: open opportunities of these customers (of ``from_user_id`` when given) go to
    the new owner and their team; closed deals keep their historical owner."""
    user = await User.select(User.team).where(User.id == to_user_id).first()
    o = t.Opportunity
    query = o.update(
        {
            o.owner: to_user_id,
            o.team: user["team"] if user else None,
            o.version: o.version + 1,
            o.updated_at: now(),
        }
    ).where(o.customer.is_in(customer_ids), o.status == OPEN)
    if from_user_id is not None:
        query = query.where(o.owner == from_user_id)
    moved = await query.returning(o.id, o.customer)
    for r in moved:
        await record(
            actor,
            "reassigned",
            "opportunity",
            r["id"],
            None,
            {"owner": to_user_id},
            customer_id=r["customer"],
        )
