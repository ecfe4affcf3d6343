"""Dashboard mutations: save, delete."""

import strawberry

from kehu.core.errors import ValidationFailed
from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.reporting import services
from kehu.plugins.reporting.graphql.inputs import SaveDashboardInput
from kehu.plugins.reporting.graphql.types import DashboardType


@strawberry.type
class DashboardMutations:
    @mutation
    async def save_dashboard(
        self, info: strawberry.Info, input: SaveDashboardInput
    ) -> DashboardType:
        if not isinstance(input.panels, list):
            raise ValidationFailed("panels must be a list", field="panels")
        row = await services.save_dashboard(
            info.context.actor,
            {
                "name": input.name,
                "description": input.description,
                "shared": input.shared,
                "panels": input.panels,
            },
            pk_of(input.id, "Dashboard"),
            input.expected_version,
        )
        return DashboardType.of(row)

    @mutation(payload="DeleteDashboardPayload", field="deleted_id")
    async def delete_dashboard(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        await services.delete_dashboard(info.context.actor, pk_of(id, "Dashboard"))
        return id
