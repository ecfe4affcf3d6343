"""The pipeline's DataLoader batch functions (``LOADERS``): one query per relation and request."""

from typing import Any

from kehu.core.graphql.base import Money
from kehu.core.graphql.types import composed
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.graphql.types import (
    Lead,
    OpportunityRef,
    OpportunityStageChange,
    Pipeline,
    PipelineStage,
)


async def load_stages(ctx: Any, keys: list[int]) -> list[PipelineStage | None]:
    rows = await services.stages_by_ids(keys)
    return [PipelineStage.from_row(rows[k]) if k in rows else None for k in keys]


async def load_pipeline_stages(ctx: Any, keys: list[int]) -> list[list[PipelineStage]]:
    rows = await services.stages_by_pipeline(keys)
    return [[PipelineStage.from_row(r) for r in rows[k]] for k in keys]


async def load_pipelines(ctx: Any, keys: list[int]) -> list[Pipeline | None]:
    rows = {
        r["id"]: r for r in await t.Pipeline.select().where(t.Pipeline.id.is_in(list(set(keys))))
    }
    return [Pipeline.from_row(rows[k]) if k in rows else None for k in keys]


async def load_opportunities(ctx: Any, keys: list[int]) -> list[OpportunityRef | None]:
    rows = await services.opportunities_by_ids(ctx.actor, keys)
    return [composed("Opportunity").from_row(rows[k]) if k in rows else None for k in keys]


async def load_last_changes(ctx: Any, keys: list[int]) -> list[OpportunityStageChange | None]:
    rows = await services.last_changes(keys)
    return [OpportunityStageChange.from_row(rows[k]) if k in rows else None for k in keys]


async def load_history(ctx: Any, keys: list[int]) -> list[list[dict[str, Any]]]:
    rows = await services.history(keys)
    return [rows[k] for k in keys]


def _children(fn: Any) -> Any:
    async def load(ctx: Any, keys: list[int]) -> list[list[dict[str, Any]]]:
        rows = await fn(keys)
        return [rows[k] for k in keys]

    return load


async def load_customer_opportunities(
    ctx: Any, keys: list[tuple[int, str | None]]
) -> list[list[OpportunityRef]]:
    by_status: dict[str | None, list[int]] = {}
    for customer_id, status in keys:
        by_status.setdefault(status, []).append(customer_id)
    found = {
        status: await services.opportunities_by_customer(ctx.actor, ids, status)
        for status, ids in by_status.items()
    }
    return [
        [composed("Opportunity").from_row(r) for r in found[status][cid]] for cid, status in keys
    ]


async def load_customer_leads(ctx: Any, keys: list[int]) -> list[list[Lead]]:
    rows = await services.leads_by_customer(ctx.actor, keys)
    return [[Lead.from_row(r) for r in rows[k]] for k in keys]


async def load_open_values(ctx: Any, keys: list[int]) -> list[list[Money]]:
    values = await services.open_value_by_customer(ctx.actor, keys)
    return [[Money.of(m) for m in values[k]] for k in keys]


LOADERS = {
    "pipeline_stage": load_stages,
    "pipeline_stages": load_pipeline_stages,
    "pipeline_pipeline": load_pipelines,
    "pipeline_opportunity": load_opportunities,
    "pipeline_last_change": load_last_changes,
    "pipeline_history": load_history,
    "pipeline_team_members": _children(services.team_members_of),
    "pipeline_line_items": _children(services.line_items_of),
    "pipeline_needs": _children(services.needs_of),
    "pipeline_customer_opportunities": load_customer_opportunities,
    "pipeline_customer_leads": load_customer_leads,
    "pipeline_open_value": load_open_values,
}
