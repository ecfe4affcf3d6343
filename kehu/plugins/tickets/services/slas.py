"""SLA policies and the clocks of tickets, computed from the status history (deadlines are
never stored; only each target's outcome is, see ``store_outcomes``).

A ticket follows the policy the ``kehu_ticket_sla_policy`` hook names for its customer
(e.g. a contract's entitlement), else ``default``; a policy row per priority overrides the
settings' targets. The first-response clock stops at the first public agent reply, the
resolution clock at resolution; both pause while the ticket waits for the customer (and the
resolution clock while resolved/closed, so a reopened ticket continues where it stopped).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kehu.core.context import current
from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import check_choice, raise_if
from kehu.plugins.tickets.services.clocks import SlaClock, measure, paused_intervals
from kehu.plugins.tickets.services.common import at, calendar, config, histories
from kehu.plugins.tickets.tables import OPEN_STATUSES, Priority, SlaPolicy, Status, Ticket

DEFAULT_POLICY = "default"
PAUSED_FIRST = {Status.pending_customer.value}
PAUSED_RESOLUTION = {Status.pending_customer.value, Status.resolved.value, Status.closed.value}


@dataclass(frozen=True)
class Targets:
    policy: str
    first_response: timedelta
    resolution: timedelta


@dataclass(frozen=True)
class TicketSla:
    policy: str
    first_response: SlaClock
    resolution: SlaClock

    @property
    def breached(self) -> bool:
        return self.first_response.breached or self.resolution.breached


# -- policies -----------------------------------------------------------------------------


async def policy_rows(names: list[str] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    query = SlaPolicy.select()
    if names is not None:
        query = query.where(SlaPolicy.name.is_in(sorted(set(names)) or [DEFAULT_POLICY]))
    return {(r["name"], r["priority"]): r for r in await query}


async def list_policies(actor: Actor) -> list["PolicyTarget"]:
    """Every policy's targets per priority (``default`` first, settings where no row)."""
    actor.require("ticket:read")
    rows = await policy_rows()
    names = sorted({n for n, _ in rows} | {DEFAULT_POLICY}, key=lambda n: (n != DEFAULT_POLICY, n))
    return [_named(rows, name, p.value) for name in names for p in Priority]


@dataclass(frozen=True)
class PolicyTarget:
    policy: str
    priority: str
    first_response: timedelta
    resolution: timedelta
    source: str  # "policy" (a row) or "settings"


def _named(rows: dict[tuple[str, str], dict[str, Any]], name: str, priority: str) -> PolicyTarget:
    t = targets_for(rows, name, priority)
    source = "policy" if (t.policy, priority) in rows else "settings"
    return PolicyTarget(t.policy, priority, t.first_response, t.resolution, source)


def targets_for(rows: dict[tuple[str, str], dict[str, Any]], name: str, priority: str) -> Targets:
    row = rows.get((name, priority)) or rows.get((DEFAULT_POLICY, priority))
    if row is not None:
        return Targets(
            row["name"],
            timedelta(minutes=row["first_response_minutes"]),
            timedelta(minutes=row["resolution_minutes"]),
        )
    t = config().sla_targets[priority]
    return Targets(
        DEFAULT_POLICY,
        timedelta(minutes=t.first_response_minutes),
        timedelta(minutes=t.resolution_minutes),
    )


async def set_policy(
    actor: Actor,
    name: str,
    priority: str,
    first_response_minutes: int,
    resolution_minutes: int,
) -> dict[str, Any]:
    """Create or change a policy's targets for a priority (scope ``ticket:sla``). Every open
    ticket on the policy gets new deadlines at once: they are computed, not stored."""
    actor.require("ticket:sla")
    errors: list[FieldError] = []
    priority = check_choice(priority, Priority, "priority", errors)
    name = (name or "").strip()
    if not 1 <= len(name) <= 50:
        errors.append(FieldError("name", "name must be 1..50 characters", "INVALID"))
    for field, value in (
        ("firstResponseMinutes", first_response_minutes),
        ("resolutionMinutes", resolution_minutes),
    ):
        if not isinstance(value, int) or value < 1:
            errors.append(FieldError(field, f"{field} must be a positive number", "INVALID"))
    raise_if(errors)
    if resolution_minutes < first_response_minutes:
        raise ValidationFailed(
            FieldError(
                "resolutionMinutes", "Resolution cannot be due before the first response", "INVALID"
            )
        )
    async with unit_of_work():
        existing = (
            await SlaPolicy.select()
            .where(SlaPolicy.name == name, SlaPolicy.priority == priority)
            .first()
        )
        values = {
            "first_response_minutes": first_response_minutes,
            "resolution_minutes": resolution_minutes,
        }
        if existing is None:
            row = (
                await SlaPolicy.insert(SlaPolicy(name=name, priority=priority, **values)).returning(
                    *SlaPolicy.all_columns()
                )
            )[0]
        else:
            row = (
                await SlaPolicy.update(values)
                .where(SlaPolicy.id == existing["id"])
                .returning(*SlaPolicy.all_columns())
            )[0]
        await record(
            actor,
            "sla_policy_set",
            "ticket_sla_policy",
            row["id"],
            {k: existing[k] for k in values} if existing else None,
            {"name": name, "priority": priority, **values},
        )
    return row


async def entitled_policies(customer_ids: list[int]) -> dict[int, str]:
    """``{customer_id: policy}`` from the ``kehu_ticket_sla_policy`` implementations."""
    out: dict[int, str] = {}
    if not customer_ids or not hasattr(current().pm.hook, "kehu_ticket_sla_policy"):
        return out
    ids = sorted(set(customer_ids))
    for answer in await current().acall("kehu_ticket_sla_policy", customer_ids=ids):
        for customer_id, name in (answer or {}).items():
            if name and customer_id not in out:
                out[customer_id] = str(name)
    return out


# -- clocks -------------------------------------------------------------------------------


def clocks_for(
    ticket: dict[str, Any], history: list[dict[str, Any]], targets: Targets, now: datetime
) -> TicketSla:
    """The two SLA clocks of one ticket at ``now`` (pure)."""
    steps = [(h["at"], h["to_status"]) for h in history] or [(ticket["created_at"], "new")]
    cal = calendar(targets.policy)
    started = ticket["created_at"]
    resolved = None
    if ticket["status"] in (Status.resolved, Status.closed):
        resolved = ticket["resolved_at"] or ticket["closed_at"]
    # a ticket resolved without any public reply stops its first-response clock too
    first = measure(
        cal,
        started,
        targets.first_response,
        paused_intervals(steps, PAUSED_FIRST, now),
        now,
        ticket["first_responded_at"] or resolved,
    )
    resolution = measure(
        cal,
        started,
        targets.resolution,
        paused_intervals(steps, PAUSED_RESOLUTION, now),
        now,
        resolved,
    )
    return TicketSla(targets.policy, first, resolution)


async def sla_of(
    tickets: list[dict[str, Any]], now: datetime | None = None
) -> dict[int, TicketSla]:
    """SLA clocks of many tickets in a constant number of queries (history, policies, hook)."""
    when = at(now)
    if not tickets:
        return {}
    history = await histories([t["id"] for t in tickets])
    entitled = await entitled_policies([t["customer"] for t in tickets])
    rows = await policy_rows([DEFAULT_POLICY, *entitled.values()])
    out = {}
    for t in tickets:
        targets = targets_for(rows, entitled.get(t["customer"], DEFAULT_POLICY), t["priority"])
        out[t["id"]] = clocks_for(t, history[t["id"]], targets, when)
    return out


# -- outcomes -----------------------------------------------------------------------------


def outcome(clock: SlaClock) -> bool | None:
    """What is stored of a clock: ``True`` breached, ``False`` met in time, ``None`` while it
    still runs within its target."""
    if clock.breached:
        return True
    return False if clock.met_at is not None else None


async def store_outcomes(
    tickets: list[dict[str, Any]], now: datetime | None = None
) -> list[dict[str, Any]]:
    """Evaluate the clocks of ``tickets`` at ``now`` and store the outcomes that changed
    (``first_response_breached``, ``resolution_breached``), in the caller's transaction; one
    UPDATE per distinct outcome pair. Returns the rows with their outcomes."""
    clocks = await sla_of(tickets, now)
    changed: dict[tuple[bool | None, bool | None], list[int]] = defaultdict(list)
    out = []
    for t in tickets:
        sla = clocks[t["id"]]
        pair = (outcome(sla.first_response), outcome(sla.resolution))
        if (t["first_response_breached"], t["resolution_breached"]) != pair:
            changed[pair].append(t["id"])
        out.append({**t, "first_response_breached": pair[0], "resolution_breached": pair[1]})
    for (first, resolution), ids in changed.items():
        await Ticket.update(
            {Ticket.first_response_breached: first, Ticket.resolution_breached: resolution}
        ).where(Ticket.id.is_in(ids))
    return out


async def record_outcomes(now: datetime | None = None, batch: int = 500) -> int:
    """Re-evaluate the outcomes of every open ticket (a breach while open, a policy change)
    and of tickets without one (rows older than the outcome columns), in batches; returns
    how many tickets were evaluated. Run by ``escalation.sla_check``."""
    last, seen = 0, 0
    pending = Ticket.status.is_in(list(OPEN_STATUSES)) | Ticket.resolution_breached.is_null()
    while True:
        async with unit_of_work():  # read and write in one transaction
            rows = (
                await Ticket.select()
                .where(pending, Ticket.id > last)
                .order_by(Ticket.id)
                .limit(batch)
            )
            await store_outcomes(rows, now)
        if not rows:
            return seen
        last, seen = rows[-1]["id"], seen + len(rows)
