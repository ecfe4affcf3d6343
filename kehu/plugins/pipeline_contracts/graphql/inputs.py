"""The bridge's mutation inputs."""

import strawberry


@strawberry.input
class DraftContractInput:
    opportunity_id: strawberry.ID
