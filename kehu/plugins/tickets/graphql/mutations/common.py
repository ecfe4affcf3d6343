"""Types and helpers the tickets mutations share."""

from typing import Any

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.plugins.tickets.graphql.types import Survey


@strawberry.type
class SurveyCreated:
    survey: Survey
    token: str = strawberry.field(description="Shown once: the link is /surveys/{token}.")


def _tid(value: Any, field: str = "id") -> int:
    return pk_of(value, "Ticket", field)
