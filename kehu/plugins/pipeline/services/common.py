"""What the pipeline services share: the plugin's settings, status values, weighted amounts and
the visibility scopes of opportunities and leads."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kehu.core.context import current
from kehu.core.money import Money
from kehu.core.permissions import Actor, owner_team_scope
from kehu.core.services.customers import customer_scope
from kehu.core.tables import Customer
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.settings import PipelineSettings

PLUGIN = "pipeline"

OPEN = t.OpportunityStatus.open.value

WON = t.OpportunityStatus.won.value

LOST = t.OpportunityStatus.lost.value

REQUIRABLE_FIELDS = (
    "amount",
    "expected_close_date",
    "needs",
    "line_items",
    "team_members",
    "description",
)


def config() -> PipelineSettings:
    return current().plugin_settings(PLUGIN)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _int(value: Any) -> int:
    return int(value or 0)


def weighted(basis: int, currency: str) -> Money:
    """``Σ amount_minor × probability`` (exact integer) → Money, ROUND_HALF_UP to the minor
    unit: the only rounding of a forecast happens here, at the edge."""
    value = (Decimal(basis) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Money(int(value), currency)


def need_priority(impact: int, difficulty: int, urgency: int) -> Decimal:
    """0.4·impact + 0.3·difficulty + 0.3·urgency, exact (S3 §3.3(2))."""
    return Decimal("0.4") * impact + Decimal("0.3") * difficulty + Decimal("0.3") * urgency


def opportunity_scope(actor: Actor) -> Any:
    """Where-clause of the opportunities ``actor`` may see (``None`` = all): owned (or of the
    actor's team, by role visibility), on a customer the actor may see, or where the actor is
    on the opportunity team."""
    scope = owner_team_scope(actor, t.Opportunity.owner, t.Opportunity.team)
    if scope is None:
        return None
    visible_customers = Customer.select(Customer.id).where(customer_scope(actor))
    members = t.TeamMember.select(t.TeamMember.opportunity).where(
        t.TeamMember.user == actor.user_id
    )
    return scope | t.Opportunity.customer.is_in(visible_customers) | t.Opportunity.id.is_in(members)


def _visible(query: Any, actor: Actor) -> Any:
    scope = opportunity_scope(actor)
    return query.where(scope) if scope is not None else query


def lead_scope(actor: Actor) -> Any:
    return owner_team_scope(actor, t.Lead.owner, t.Lead.team)


def _ratio(part: int, whole: int, places: str = "0.0001") -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def percent(part: int, whole: int) -> Decimal | None:
    """``part ÷ whole × 100`` to 0.01, half up (``None`` over zero)."""
    return _ratio(part * 100, whole, "0.01")


def days(seconds: int, count: int) -> Decimal | None:
    """Mean days of ``count`` durations summing to ``seconds``, to 0.01, half up."""
    return _ratio(seconds, count * 86400, "0.01")


def money_ratio(minor: int, divisor: int, currency: str) -> Money | None:
    """``minor ÷ divisor`` as Money, rounded once, half up, to the minor unit."""
    if not divisor:
        return None
    value = (Decimal(minor) / Decimal(divisor)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return Money(int(value), currency)
