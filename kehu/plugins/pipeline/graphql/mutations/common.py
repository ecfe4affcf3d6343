"""Payload types and helpers the pipeline's mutations share."""

from typing import Any

import strawberry

from kehu.core.graphql.base import (
    UserError,
    payload,
    pk_of,
)
from kehu.core.graphql.types import composed
from kehu.plugins.pipeline.graphql.types import (
    ActivityRef,
    ContactRef,
    CustomerRef,
    Lead,
    OpportunityRef,
    Pipeline,
    PipelineStage,
)


@strawberry.type
class OpportunityActivityPayload:
    activity: ActivityRef | None
    errors: list[UserError]


@strawberry.type
class PipelinePayload:
    pipeline: Pipeline | None
    errors: list[UserError]


@strawberry.type
class PipelineStagePayload:
    stage: PipelineStage | None
    errors: list[UserError]


@strawberry.type
class OpportunityPayload:
    opportunity: OpportunityRef | None
    errors: list[UserError]


@strawberry.type
class LeadPayload:
    lead: Lead | None
    errors: list[UserError]


@strawberry.type
class LeadConversion:
    lead: Lead
    customer: CustomerRef
    contact: ContactRef | None
    opportunity: OpportunityRef | None
    reused_customer: bool


@strawberry.type
class ConvertLeadPayload:
    conversion: LeadConversion | None
    errors: list[UserError]


@strawberry.type
class OpportunityDeletePayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


def _opp_id(value: strawberry.ID, field: str = "id") -> int:
    return pk_of(value, "Opportunity", field)


async def _opp(work: Any) -> OpportunityPayload:
    async def run() -> Any:
        return composed("Opportunity").from_row(await work())

    return await payload(OpportunityPayload, "opportunity", run)


async def _lead(work: Any) -> LeadPayload:
    async def run() -> Lead:
        return Lead.from_row(await work())

    return await payload(LeadPayload, "lead", run)
