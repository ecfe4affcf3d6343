"""Types and helpers the pipeline's mutations share."""

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.types import ContactRef, CustomerRef
from kehu.plugins.pipeline.graphql.types import Lead, OpportunityRef


@strawberry.type
class LeadConversion:
    lead: Lead
    customer: CustomerRef
    contact: ContactRef | None
    opportunity: OpportunityRef | None
    reused_customer: bool


def _opp_id(value: strawberry.ID, field: str = "id") -> int:
    return pk_of(value, "Opportunity", field)
