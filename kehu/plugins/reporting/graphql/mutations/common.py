"""Payload types of the reporting mutations."""

import strawberry

from kehu.core.graphql.base import UserError
from kehu.plugins.reporting.graphql.types import DashboardType


@strawberry.type
class DashboardPayload:
    dashboard: DashboardType | None
    errors: list[UserError]


@strawberry.type
class DeleteDashboardPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]
