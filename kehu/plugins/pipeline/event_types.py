"""The events the pipeline plugin emits (its part of the catalogue in ``docs/events.md``).

Who receives them beyond the type's ``scope``: pipelines are configuration every
``pipeline:read`` holder sees; leads follow the lead's owner/team; opportunities follow the
opportunity's own visibility (owner/team, visible customer or opportunity team member);
forecast snapshots count the lines of every owner, so they go to actors who see all owners.
"""

from typing import Any

from kehu.core.event_types import EventType
from kehu.core.events import Event
from kehu.core.permissions import Actor, owner_team_scope
from kehu.core.services.customers import visible_customer_ids
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t

CHANGED = "the changed columns, new values (the audit row has the old ones)"
MINOR = "in minor units of ``currency`` (fen for CNY)"

PIPELINE_FIELDS = {
    "id": "pipeline id",
    "name": "pipeline name (unique)",
    "description": "free text",
    "template": "template it was created from ('' for explicit stages)",
    "transition_policy": "'linear' (no skipping, back moves as configured) or 'non_linear'",
    "approval_threshold_minor": f"deals above this amount need approval, {MINOR}; null: none",
    "approval_currency": "currency of the approval threshold ('' without one)",
    "stale_after_days": "days without a move or activity after which a deal is stale",
    "is_default": "whether new deals go to this pipeline by default",
    "archived_at": "when it was archived (null: active)",
    "version": "optimistic-lock version after the change",
    "created_at": "when it was created",
    "updated_at": "when it was last changed",
}

STAGE_FIELDS = {
    "stage_id": "id of the changed stage",
    "name": "stage name",
    "probability": "default win probability, integer percent 0..100",
    "forecast_category": "pipeline, best_case, commit, closed or omitted",
    "is_closed": "whether the stage closes the deal (unchanged: stage flags are fixed)",
    "is_won": "whether it is the won stage (unchanged: stage flags are fixed)",
    "is_approval": "whether it is the approval stage (unchanged: stage flags are fixed)",
    "required_fields": "opportunity fields that must be filled to enter the stage",
    "back_to": "names of earlier stages a linear pipeline may move back to from here",
}

OPPORTUNITY_FIELDS = {
    "id": "opportunity id",
    "name": "opportunity name",
    "description": "free text",
    "customer": "id of the customer the deal is with",
    "pipeline": "pipeline id",
    "stage": "id of the current stage",
    "amount_minor": f"deal amount {MINOR}",
    "currency": "ISO 4217 currency code of the amount",
    "expected_close_date": "expected close date (ISO date, null: not set)",
    "owner": "user id of the owner",
    "team": "team id of the owner's team",
    "status": "open, won or lost",
    "probability": "effective win probability, integer percent 0..100",
    "probability_overridden": "whether the probability was set by hand (else the stage's)",
    "forecast_category": "effective forecast category (pipeline, best_case, commit, ...)",
    "category_overridden": "whether the forecast category was set by hand (else the stage's)",
    "weighted_basis": "amount_minor × probability (exact; divide by 100 for minor units)",
    "lost_reason": "configured lost reason ('' unless lost)",
    "lost_note": "free-text note on the loss",
    "kanban_position": "0-based position in its stage's kanban column",
    "approved_at": "when the deal was approved in the approval stage (null: not approved)",
    "approved_by": "user id of the approver",
    "stage_entered_at": "when it entered its current stage",
    "closed_at": "when it was won or lost (null: open)",
    "cycle_seconds": "seconds from creation to close (null: open)",
    "lead": "id of the lead it was converted from (null: none)",
    "source": "where the deal came from (lead source)",
    "version": "optimistic-lock version after the change",
    "created_at": "when it was created",
    "updated_at": "when it was last changed",
}

MOVE_FIELDS = {
    "from_stage": "name of the stage it left",
    "to_stage": "name of the stage it entered",
    "from_stage_id": "id of the stage it left",
    "to_stage_id": "id of the stage it entered",
    "status": "status after the move: open, won or lost",
    "amount_minor": f"deal amount {MINOR}",
    "currency": "ISO 4217 currency code of the amount",
    "owner": "user id of the owner",
}

CLOSE_FIELDS = {**MOVE_FIELDS, "reason": "lost reason ('' when won or reopened)"}

LINE_ITEM_FIELDS = {
    "id": "line item id",
    "opportunity": "opportunity id",
    "product": "product name",
    "quantity": "quantity (positive integer)",
    "unit_price_minor": f"unit price {MINOR}",
    "currency": "ISO 4217 currency code (the opportunity's)",
    "position": "0-based position in the opportunity's list",
    "created_at": "when it was added",
}

NEED_FIELDS = {
    "id": "need id",
    "opportunity": "opportunity id",
    "description": "the need, from the needs document",
    "impact": "impact score 1..5",
    "difficulty": "difficulty score 1..5",
    "urgency": "urgency score 1..5",
    "created_at": "when it was added",
}

LEAD_FIELDS = {
    "id": "lead id",
    "name": "the person's name",
    "company": "company name ('' for a person)",
    "name_key": "normalised company or name, for duplicate checks",
    "email": "e-mail address (normalised)",
    "phone": "phone number (normalised)",
    "title": "the person's job title",
    "source": "where the lead came from (trade_show, website, ...)",
    "industry": "industry",
    "size": "company size",
    "notes": "free text",
    "factors": "scoring factor → score 0..100",
    "score": "lead score: Σ weight × factor score, rounded half up",
    "status": "new, qualified, disqualified or converted",
    "disqualify_reason": "why it was disqualified ('' otherwise)",
    "owner": "user id of the owner",
    "team": "team id of the owner's team",
    "customer": "id of the customer it was converted into (null before)",
    "contact": "id of the contact it was converted into (null: none)",
    "opportunity_id": "id of the opportunity it was converted into (null: none)",
    "converted_at": "when it was converted (null: not converted)",
    "version": "optimistic-lock version after the change",
    "created_at": "when it was created",
    "updated_at": "when it was last changed",
}


# -- who may receive them (each rule answers for a whole batch in one or two queries) --------


async def pipeline_readers(actor: Actor, events: list[Event]) -> set[str]:
    """Pipelines and stages are configuration: every holder of ``pipeline:read`` (checked
    by the type's scope) sees them."""
    return {e.id for e in events}


async def merge_visible(actor: Actor, events: list[Event]) -> set[str]:
    """A customer merge's pipeline part names the moved opportunities (now on the visible
    surviving customer, so visible) and leads, which are visible by owner/team only: the
    receiver must see the customer and every listed lead."""
    seen = await visible_customer_ids(
        actor, sorted({e.customer_id for e in events if e.customer_id is not None})
    )
    candidates = [e for e in events if e.customer_id in seen]
    lead_ids = sorted({i for e in candidates for i in e.data.get("leads") or []})
    scope = services.lead_scope(actor)
    visible: set[int] = set(lead_ids)
    if lead_ids and scope is not None:
        rows = await t.Lead.select(t.Lead.id).where(t.Lead.id.is_in(lead_ids), scope)
        visible = {r["id"] for r in rows}
    return {e.id for e in candidates if set(e.data.get("leads") or []) <= visible}


async def leads_visible(actor: Actor, events: list[Event]) -> set[str]:
    """Leads are visible to their owner (and team / everyone, by role visibility)."""
    scope = services.lead_scope(actor)
    if scope is None:
        return {e.id for e in events}
    ids = sorted({e.entity_id for e in events if e.entity_id is not None})
    if not ids:
        return set()
    rows = await t.Lead.select(t.Lead.id).where(t.Lead.id.is_in(ids), scope)
    seen = {r["id"] for r in rows}
    return {e.id for e in events if e.entity_id in seen}


async def opportunities_visible(actor: Actor, events: list[Event]) -> set[str]:
    """The opportunity's own visibility (``services.opportunity_scope``: owner/team, a
    visible customer, or a member of the opportunity team); a deleted opportunity falls back
    to its customer's visibility."""
    scope = services.opportunity_scope(actor)
    if scope is None:
        return {e.id for e in events}
    ids = sorted({e.entity_id for e in events if e.entity_id is not None})
    seen: set[Any] = set()
    if ids:
        rows = await t.Opportunity.select(t.Opportunity.id).where(
            t.Opportunity.id.is_in(ids), scope
        )
        seen = {r["id"] for r in rows}
    rest = [e for e in events if e.entity_id not in seen and e.customer_id is not None]
    customers = await visible_customer_ids(actor, sorted({e.customer_id for e in rest}))
    return {e.id for e in events if e.entity_id in seen} | {
        e.id for e in rest if e.customer_id in customers
    }


async def sees_all_forecasts(actor: Actor, events: list[Event]) -> set[str]:
    """A snapshot's data counts the forecast lines of every owner and team: only actors who
    see every owner's forecast (role visibility ``all``) receive it."""
    line = t.ForecastSnapshotLine
    if owner_team_scope(actor, line.owner, line.team) is not None:
        return set()
    return {e.id for e in events}


def _pipeline(name: str, description: str, fields: dict[str, str], **kw: Any) -> EventType:
    return EventType(
        name,
        description,
        fields,
        scope="pipeline:read",
        node="Pipeline",
        visible=pipeline_readers,
        **kw,
    )


def _opportunity(name: str, description: str, fields: dict[str, str], **kw: Any) -> EventType:
    return EventType(
        name,
        description,
        fields,
        scope="opportunity:read",
        node="Opportunity",
        visible=opportunities_visible,
        **kw,
    )


def _lead(name: str, description: str, fields: dict[str, str], **kw: Any) -> EventType:
    return EventType(
        name, description, fields, scope="lead:read", node="Lead", visible=leads_visible, **kw
    )


PIPELINE_EVENTS = [
    _pipeline(
        "pipeline.created",
        "A pipeline was created from a template or from explicit stages.",
        {**PIPELINE_FIELDS, "stages": "stage names, in order"},
        table=t.Pipeline,
    ),
    _pipeline(
        "pipeline.updated",
        f"Pipeline settings changed (or it was archived, restored, made default): {CHANGED}.",
        PIPELINE_FIELDS,
        table=t.Pipeline,
    ),
    _pipeline(
        "pipeline.stage_updated",
        "A stage of the pipeline was edited; open deals in it follow a new probability or "
        "forecast category. Data: the stage id and the edited fields, new values.",
        STAGE_FIELDS,
    ),
    _pipeline(
        "pipeline.stages_set",
        "The pipeline's stage list was replaced (stages renamed, reordered, added, removed).",
        {"stages": "stage names now, in order"},
    ),
    EventType(
        "pipeline.customers_merged",
        "Customer ``merged_id`` was merged into ``customer``: its opportunities and leads "
        "moved to the surviving customer.",
        {
            "merged_id": "id of the customer merged away",
            "opportunities": "ids of the opportunities moved to the surviving customer",
            "leads": "ids of the leads moved to the surviving customer",
            "customer": "id of the surviving customer",
        },
        scope="pipeline:read",
        visible=merge_visible,
    ),
    _opportunity(
        "opportunity.created",
        "An opportunity was created (by hand, the API or a lead conversion).",
        OPPORTUNITY_FIELDS,
        table=t.Opportunity,
    ),
    _opportunity(
        "opportunity.updated",
        f"Opportunity fields changed (amount, owner, probability, ...): {CHANGED}.",
        OPPORTUNITY_FIELDS,
        table=t.Opportunity,
    ),
    _opportunity("opportunity.deleted", "An opportunity was deleted.", {}),
    _opportunity(
        "opportunity.stage_changed",
        "The opportunity moved to another stage (every move, won, lost and reopened included).",
        MOVE_FIELDS,
    ),
    _opportunity(
        "opportunity.won",
        "The opportunity was won (it entered the won stage).",
        CLOSE_FIELDS,
    ),
    _opportunity("opportunity.lost", "The opportunity was lost, with a reason.", CLOSE_FIELDS),
    _opportunity(
        "opportunity.reopened",
        "A won or lost opportunity was reopened in the stage it was closed from.",
        CLOSE_FIELDS,
    ),
    _opportunity(
        "opportunity.approved",
        "The deal was approved in the approval stage.",
        {"approved_at": "when it was approved"},
    ),
    _opportunity(
        "opportunity.reordered",
        "The opportunity was moved within its stage's kanban column.",
        {"kanban_position": "0-based position in the column now"},
    ),
    _opportunity(
        "opportunity.reassigned",
        "An open opportunity was handed over with its customer.",
        {"owner": "user id of the new owner"},
    ),
    _opportunity(
        "opportunity.team_member_set",
        "A user was added to the opportunity team (or their role changed).",
        {"user": "user id of the member", "role": "am, ts, sc or bd"},
    ),
    _opportunity(
        "opportunity.team_member_removed",
        "A user was removed from the opportunity team (the audit row names them).",
        {},
    ),
    _opportunity(
        "opportunity.line_item_added",
        "A product line was added to the opportunity.",
        LINE_ITEM_FIELDS,
        table=t.LineItem,
    ),
    _opportunity(
        "opportunity.line_item_removed",
        "A product line was removed (the audit row has it).",
        {},
    ),
    _opportunity(
        "opportunity.need_added",
        "A need was added to the opportunity's needs document.",
        NEED_FIELDS,
        table=t.Need,
    ),
    _opportunity(
        "opportunity.need_removed",
        "A need was removed (the audit row has it).",
        {},
    ),
    _lead("lead.created", "A lead was created.", LEAD_FIELDS, table=t.Lead),
    _lead(
        "lead.updated",
        f"Lead fields changed (score and name key follow): {CHANGED}.",
        LEAD_FIELDS,
        table=t.Lead,
    ),
    _lead("lead.qualified", "The lead was qualified.", {"status": "'qualified'"}),
    _lead(
        "lead.disqualified",
        "The lead was disqualified.",
        {"status": "'disqualified'", "reason": "why"},
    ),
    _lead(
        "lead.converted",
        "The lead was converted into a customer (new or reused), a contact and an "
        "opportunity, in one unit of work.",
        {
            "status": "'converted'",
            "customer": "id of the customer (new or reused)",
            "contact": "id of the new contact (null: the lead had no company)",
            "opportunity": "id of the new opportunity (null: none created)",
            "reused_customer": "whether an existing customer was reused",
        },
    ),
    EventType(
        "forecast.snapshot",
        "The weighted forecast of a period (default: the current quarter) was stored (job "
        "``pipeline.forecast_snapshot`` or by hand).",
        {
            "period_start": "first day of the period (ISO date)",
            "period_end": "day after the period (ISO date, exclusive)",
            "lines": "number of stored lines (owner × team × category × currency)",
        },
        scope="forecast:read",
        visible=sees_all_forecasts,
    ),
]
