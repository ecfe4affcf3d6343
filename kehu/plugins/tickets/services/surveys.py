"""Satisfaction surveys: CSAT (1–5, satisfied = 4–5) and NPS (0–10).

A survey is created when a ticket closes, or by another plugin calling ``create_survey``
(after a deal is won: ``create_related_survey``, at most one per record and kind, so a
redelivered event sends no second survey). Its link carries a random token; only the
token's SHA-256 is stored, the token itself goes out once in the ``ticket_survey.created``
event (for a mailer) and the return value. The public route answers a survey exactly once.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import FieldError, NotFound
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor, system_actor
from kehu.core.services.common import check_choice, load_json, raise_if
from kehu.core.services.customers import get_customer
from kehu.core.tables import Customer
from kehu.plugins.tickets.services.common import at, config
from kehu.plugins.tickets.tables import Survey, SurveyKind

DIMENSIONS = ("response_speed", "accuracy", "attitude", "professionalism")
SCALES = {"csat": (1, 5), "nps": (0, 10)}
QUESTIONS = {
    "csat": "How satisfied are you with our service? (1 = very dissatisfied, 5 = very satisfied)",
    "nps": "How likely are you to recommend us to a friend or colleague? (0–10)",
}


class SurveyGone(NotFound):
    """Unknown, expired or already answered token (the route answers 404 for all three)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_survey(
    actor: Actor,
    customer_id: int,
    kind: str,
    *,
    ticket_id: int | None = None,
    related_type: str | None = None,
    related_id: int | None = None,
    question: str | None = None,
    now: datetime | None = None,
    check_visibility: bool = True,
) -> tuple[dict[str, Any], str]:
    """Create a survey and return ``(row, token)``; the token is not stored (only its hash).
    Published service for other plugins: ``create_survey(actor, customer_id, "nps",
    related_type="opportunity", related_id=7)``."""
    errors: list[FieldError] = []
    kind = check_choice(kind, SurveyKind, "kind", errors)
    raise_if(errors)
    when = at(now)
    token = secrets.token_urlsafe(24)
    async with unit_of_work():
        if check_visibility:
            await get_customer(actor, customer_id)
        row = (
            await Survey.insert(
                Survey(
                    kind=kind,
                    customer=customer_id,
                    ticket=ticket_id,
                    related_type=related_type,
                    related_id=related_id,
                    question=(question or QUESTIONS[kind])[:500],
                    token_hash=hash_token(token),
                    dimensions="{}",
                    expires_at=when + timedelta(days=config().survey_valid_days),
                    created_at=when,
                )
            ).returning(*Survey.all_columns())
        )[0]
        safe = {
            "kind": kind,
            "ticket": ticket_id,
            "customer": customer_id,
            "related_type": related_type,
            "related_id": related_id,
        }
        await record(
            actor,
            "created",
            "ticket_survey",
            row["id"],
            after=safe,
            event_data={**safe, "token": token, "path": f"/surveys/{token}"},
        )
    return row, token


async def create_related_survey(
    actor: Actor,
    customer_id: int,
    kind: str,
    *,
    related_type: str,
    related_id: int,
    now: datetime | None = None,
    check_visibility: bool = True,
) -> tuple[dict[str, Any], str] | None:
    """``create_survey`` at most once per ``(related_type, related_id, kind)`` (one NPS
    survey per won opportunity, however often the event is delivered): ``None`` when that
    survey exists already. Race-free: on PostgreSQL a transaction-scoped advisory lock on the
    key serialises the check and the insert (SQLite's ``BEGIN IMMEDIATE`` already serialises
    writers), so two deliveries at once in two processes create one survey."""
    async with unit_of_work():
        if not is_sqlite(current_engine()):
            await Survey.raw(
                "SELECT pg_advisory_xact_lock(hashtext({}), {})",
                f"kehu.tickets.survey:{related_type}:{kind}",
                related_id,
            )
        if await Survey.exists().where(
            Survey.related_type == related_type,
            Survey.related_id == related_id,
            Survey.kind == kind,
        ):
            return None
        return await create_survey(
            actor,
            customer_id,
            kind,
            related_type=related_type,
            related_id=related_id,
            now=now,
            check_visibility=check_visibility,
        )


async def _by_token(token: str, when: datetime) -> dict[str, Any]:
    if not token or len(token) > 200:
        raise SurveyGone("Survey not found")
    row = await Survey.select().where(Survey.token_hash == hash_token(token)).first()
    if row is None or row["answered_at"] is not None or row["expires_at"] <= when:
        raise SurveyGone("Survey not found")
    return row


@dataclass(frozen=True)
class PublicSurvey:
    """All that a survey link reveals: the question and the customer's display name."""

    kind: str
    question: str
    customer_name: str
    scale: tuple[int, int]
    dimensions: tuple[str, ...]


async def public_survey(token: str, now: datetime | None = None) -> PublicSurvey:
    row = await _by_token(token, at(now))
    customer = await Customer.select(Customer.name).where(Customer.id == row["customer"]).first()
    return PublicSurvey(
        row["kind"], row["question"], customer["name"], SCALES[row["kind"]], DIMENSIONS
    )


async def answer_survey(
    token: str,
    score: Any,
    dimensions: dict[str, Any] | None = None,
    comment: str = "",
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Answer once through the token (no login). Dimension scores use the CSAT scale 1–5."""
    when = at(now)
    errors: list[FieldError] = []
    dims = dict(dimensions or {})
    unknown = set(dims) - set(DIMENSIONS)
    if unknown:
        errors.append(
            FieldError("dimensions", f"Unknown dimension(s): {sorted(unknown)}", "INVALID")
        )
    for name, value in dims.items():
        if name in DIMENSIONS and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5
        ):
            errors.append(FieldError(f"dimensions.{name}", "Dimension scores are 1..5", "INVALID"))
    if not isinstance(comment, str) or len(comment) > 2000:
        errors.append(FieldError("comment", "comment must be text of at most 2000 characters"))
    async with unit_of_work():
        row = await _by_token(token, when)
        low, high = SCALES[row["kind"]]
        if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
            errors.append(FieldError("score", f"score must be {low}..{high}", "INVALID"))
        raise_if(errors)
        done = (
            await Survey.update(
                {
                    Survey.answered_at: when,
                    Survey.score: score,
                    Survey.dimensions: json.dumps(dims),
                    Survey.comment: comment,
                }
            )
            .where(Survey.id == row["id"], Survey.answered_at.is_null())
            .returning(Survey.id)
        )
        if not done:
            raise SurveyGone("Survey not found")
        await record(
            system_actor(),
            "answered",
            "ticket_survey",
            row["id"],
            after={
                "kind": row["kind"],
                "score": score,
                "dimensions": dims,
                "customer": row["customer"],
                "ticket": row["ticket"],
            },
        )
    return {**row, "answered_at": when, "score": score, "dimensions": dims, "comment": comment}


def csat_percent(scores: list[int]) -> float | None:
    """Satisfied (4–5) / responses × 100."""
    return round(100 * sum(1 for s in scores if s >= 4) / len(scores), 1) if scores else None


def nps(scores: list[int]) -> int | None:
    """Promoters (9–10) minus detractors (0–6), in percent of responses."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100 * (promoters - detractors) / len(scores))


@dataclass(frozen=True)
class Satisfaction:
    csat: float | None
    csat_responses: int
    nps: int | None
    nps_responses: int


async def satisfaction_of(
    customer_ids: list[int], since: datetime | None = None
) -> dict[int, Satisfaction]:
    """CSAT % and NPS per customer from answered surveys, one query."""
    scores: dict[int, dict[str, list[int]]] = {i: {"csat": [], "nps": []} for i in customer_ids}
    if customer_ids:
        query = Survey.select(Survey.customer, Survey.kind, Survey.score).where(
            Survey.customer.is_in(sorted(set(customer_ids))), Survey.answered_at.is_not_null()
        )
        if since is not None:
            query = query.where(Survey.answered_at >= since)
        for r in await query:
            scores[r["customer"]][r["kind"]].append(r["score"])
    return {
        i: Satisfaction(csat_percent(s["csat"]), len(s["csat"]), nps(s["nps"]), len(s["nps"]))
        for i, s in scores.items()
    }


async def surveys_of_tickets(ticket_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ticket_ids}
    if ticket_ids:
        for r in (
            await Survey.select()
            .where(Survey.ticket.is_in(sorted(set(ticket_ids))))
            .order_by(Survey.id)
        ):
            r["dimensions"] = load_json(r["dimensions"])
            out[r["ticket"]].append(r)
    return out
