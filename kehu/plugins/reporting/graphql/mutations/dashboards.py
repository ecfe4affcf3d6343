"""Dashboard mutations: save, delete."""

from typing import Any

import strawberry

from kehu.core.errors import ValidationFailed
from kehu.core.graphql.base import payload, pk_of
from kehu.plugins.reporting import services
from kehu.plugins.reporting.graphql.inputs import SaveDashboardInput
from kehu.plugins.reporting.graphql.mutations.common import DashboardPayload, DeleteDashboardPayload
from kehu.plugins.reporting.graphql.types import DashboardType


@strawberry.type
class DashboardMutations:
    @strawberry.mutation
    async def save_dashboard(
        self, info: strawberry.Info, input: SaveDashboardInput
    ) -> DashboardPayload:
        async def work() -> Any:
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

        return await payload(DashboardPayload, "dashboard", work)

    @strawberry.mutation
    async def delete_dashboard(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> DeleteDashboardPayload:
        async def work() -> Any:
            await services.delete_dashboard(info.context.actor, pk_of(id, "Dashboard"))
            return id

        return await payload(DeleteDashboardPayload, "deleted_id", work)
