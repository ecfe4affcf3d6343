"""Mutations of leads: create, update, qualify, disqualify, convert."""

from typing import Any

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.core.graphql.types import composed
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.graphql.inputs import (
    ConvertLeadInput,
    CreateLeadInput,
    DisqualifyLeadInput,
    PipelineRecordInput,
    UpdateLeadInput,
    _given,
    _pipeline_pk,
)
from kehu.plugins.pipeline.graphql.mutations.common import LeadConversion
from kehu.plugins.pipeline.graphql.types import Lead


@strawberry.type
class LeadMutations:
    @mutation(
        description="Capture a lead; DUPLICATE unless allowDuplicate when it "
        "matches an open lead or a customer."
    )
    async def create_lead(self, info: strawberry.Info, input: CreateLeadInput) -> Lead:
        def data() -> dict[str, Any]:
            out = {
                k: getattr(input, k)
                for k in (
                    "name",
                    "company",
                    "email",
                    "phone",
                    "title",
                    "source",
                    "industry",
                    "size",
                    "notes",
                )
            }
            if input.factors is not None:
                out["factors"] = input.factors
            if input.owner_id is not None:
                out["owner"] = pk_of(input.owner_id, "User", "ownerId")
            return out

        return Lead.from_row(
            await services.create_lead(
                info.context.actor, data(), allow_duplicate=input.allow_duplicate
            )
        )

    @mutation
    async def update_lead(self, info: strawberry.Info, input: UpdateLeadInput) -> Lead:
        return Lead.from_row(
            await services.update_lead(
                info.context.actor,
                pk_of(input.id, "Lead"),
                input.expected_version,
                _given(
                    input,
                    (
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
                    ),
                ),
            )
        )

    @mutation
    async def qualify_lead(self, info: strawberry.Info, input: PipelineRecordInput) -> Lead:
        return Lead.from_row(
            await services.qualify_lead(info.context.actor, pk_of(input.id, "Lead"))
        )

    @mutation
    async def disqualify_lead(self, info: strawberry.Info, input: DisqualifyLeadInput) -> Lead:
        return Lead.from_row(
            await services.disqualify_lead(
                info.context.actor, pk_of(input.id, "Lead"), input.reason
            )
        )

    @mutation(
        description="Convert a lead into customer + contact + opportunity in "
        "one transaction, reusing a matching customer.",
        payload="ConvertLeadPayload",
        field="conversion",
    )
    async def convert_lead(self, info: strawberry.Info, input: ConvertLeadInput) -> LeadConversion:
        opportunity: dict[str, Any] = {}
        if input.opportunity_name:
            opportunity["name"] = input.opportunity_name
        if input.pipeline_id is not None:
            opportunity["pipeline"] = _pipeline_pk(input.pipeline_id)
        if input.amount is not None:
            opportunity["amount"] = input.amount.to_value()
        if input.expected_close_date is not None:
            opportunity["expected_close_date"] = input.expected_close_date
        result = await services.convert_lead(
            info.context.actor,
            pk_of(input.id, "Lead"),
            opportunity=opportunity,
            create_opportunity_too=input.create_opportunity,
            customer_id=pk_of(input.customer_id, "Customer", "customerId"),
        )
        return LeadConversion(
            lead=Lead.from_row(result.lead),
            customer=composed("Customer").from_row(result.customer),
            contact=composed("Contact").from_row(result.contact) if result.contact else None,
            opportunity=composed("Opportunity").from_row(result.opportunity)
            if result.opportunity
            else None,
            reused_customer=result.reused_customer,
        )
