"""SLA escalation (the ``tickets.sla_check`` job and ``kehu tickets sla-check``).

For every open ticket and each running SLA clock: a **reminder** to the assignee (or the team
supervisor when unassigned) when the remaining business time is at most
``reminder_lead_minutes``; on **breach**, a task for each supervisor of the ticket's team (the
team's managers) and, with ``reassign_on_breach``, a reassignment within the team. Each step
is done once per (ticket, target, step): ``tickets_escalation.step_key`` is unique. The job
also stores the SLA outcome of open tickets (a breach is known before the ticket is answered).
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor, system_actor
from kehu.core.services import activities
from kehu.core.tables import User
from kehu.plugins.tickets.services.common import at, config
from kehu.plugins.tickets.services.routing import pick_assignee
from kehu.plugins.tickets.services.slas import record_outcomes, sla_of
from kehu.plugins.tickets.tables import OPEN_STATUSES, Escalation, Ticket

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu

TARGET_LABELS = {"first_response": "first response", "resolution": "resolution"}


@dataclass
class Step:
    ticket_id: int
    number: str
    target: str  # first_response | resolution
    step: str  # reminder | breach
    due_at: datetime | None
    notify: list[int] = field(default_factory=list)
    reassign: bool = False  # breach with ``reassign_on_breach``: picked when the step runs
    reassign_to: int | None = None

    @property
    def key(self) -> str:
        return f"{self.ticket_id}:{self.target}:{self.step}"

    def describe(self, names: dict[int, str] | None = None) -> str:
        """One line for the CLI; ``names`` maps user ids to usernames."""
        due = f"{self.due_at:%Y-%m-%d %H:%M} UTC" if self.due_at else "paused"
        who = ", ".join((names or {}).get(u, f"user {u}") for u in self.notify) or "nobody"
        text = (
            f"{self.number}: {self.step} on {TARGET_LABELS[self.target]} (due {due}), notify {who}"
        )
        if self.reassign_to is not None:
            text += f", reassigned to user {self.reassign_to}"
        elif self.reassign:
            text += ", reassign within the team"
        return text


async def supervisors(team_ids: list[int]) -> dict[int, list[int]]:
    """Active managers per team (the 监督岗位 of a support team)."""
    out: dict[int, list[int]] = {t: [] for t in team_ids}
    if team_ids:
        rows = (
            await User.select(User.id, User.team)
            .where(
                User.team.is_in(sorted(set(team_ids))), User.role == "manager", User.active.eq(True)
            )
            .order_by(User.id)
        )
        for r in rows:
            out[r["team"]].append(r["id"])
    return out


async def plan(now: datetime | None = None, batch: int = 500) -> list[Step]:
    """What ``sla_check`` would do at ``now`` (nothing is written); open tickets are read in
    batches of ``batch`` (a constant number of queries each)."""
    when = at(now)
    steps: list[Step] = []
    last = 0
    while True:
        tickets = (
            await Ticket.select()
            .where(
                Ticket.status.is_in(list(OPEN_STATUSES)),
                Ticket.merged_into.is_null(),
                Ticket.id > last,
            )
            .order_by(Ticket.id)
            .limit(batch)
        )
        if not tickets:
            return steps
        last = tickets[-1]["id"]
        steps += await _plan_batch(tickets, when)


async def _plan_batch(tickets: list[dict[str, Any]], when: datetime) -> list[Step]:
    lead = timedelta(minutes=config().reminder_lead_minutes)
    clocks = await sla_of(tickets, when)
    done = {
        r["step_key"]
        for r in await Escalation.select(Escalation.step_key).where(
            Escalation.ticket.is_in([t["id"] for t in tickets])
        )
    }
    bosses = await supervisors([t["team"] for t in tickets if t["team"] is not None])
    steps: list[Step] = []
    for t in tickets:
        sla = clocks[t["id"]]
        team_bosses = bosses.get(t["team"], [])
        for target, clock in (
            ("first_response", sla.first_response),
            ("resolution", sla.resolution),
        ):
            if clock.met_at is not None:
                continue
            if clock.breached:
                step = Step(t["id"], t["number"], target, "breach", clock.due_at, list(team_bosses))
                step.reassign = config().reassign_on_breach and t["team"] is not None
            elif not clock.paused and clock.remaining <= lead:
                notify = [t["assignee"]] if t["assignee"] else list(team_bosses)
                step = Step(t["id"], t["number"], target, "reminder", clock.due_at, notify)
            else:
                continue
            if step.key not in done:
                steps.append(step)
    return steps


async def sla_check(
    now: datetime | None = None, *, dry_run: bool = False, actor: Actor | None = None
) -> list[Step]:
    """Send due reminders and escalations (each once) and store the SLA outcomes of open
    tickets and of tickets without one (``slas.record_outcomes``); ``dry_run`` only reports
    the steps."""
    steps = await plan(now)
    if dry_run:
        return steps
    actor = actor or system_actor()
    when = at(now)
    for step in steps:
        await _run(actor, step, when)
    await record_outcomes(when)
    return steps


async def _run(actor: Actor, step: Step, when: datetime) -> None:
    async with unit_of_work():
        # the unique key makes a concurrent second run skip the step instead of repeating it
        inserted = await Escalation.raw(
            "INSERT INTO tickets_escalation (ticket, step_key, target, step, notified, "
            "activity_ids, at) VALUES ({}, {}, {}, {}, {}, {}, {}) "
            "ON CONFLICT (step_key) DO NOTHING RETURNING id",
            step.ticket_id,
            step.key,
            step.target,
            step.step,
            "[]",
            "[]",
            when,
        )
        if not inserted:
            return
        ticket = await Ticket.select().where(Ticket.id == step.ticket_id).first()
        if step.reassign:
            step.reassign_to = await pick_assignee(ticket["team"], exclude=ticket["assignee"])
            if step.reassign_to is not None:
                await Ticket.update(
                    {
                        Ticket.assignee: step.reassign_to,
                        Ticket.version: Ticket.version + 1,
                        Ticket.updated_at: when,
                    }
                ).where(Ticket.id == ticket["id"])
        label = TARGET_LABELS[step.target]
        due = f"{step.due_at:%Y-%m-%d %H:%M} UTC" if step.due_at else "-"
        if step.step == "breach":
            subject = f"SLA breached: {label} of {ticket['number']} {ticket['subject']}"
        else:
            subject = f"SLA reminder: {label} of {ticket['number']} due {due}"
        created = []
        for user_id in step.notify:
            row = await activities.log_activity(
                actor,
                ticket["customer"],
                {
                    "kind": "task",
                    "status": "planned",
                    "subject": subject[:255],
                    "body": f"Ticket {ticket['number']} ({ticket['priority']}): {label} due {due}.",
                    "due_at": when,
                    "owner": user_id,
                    "related_type": "ticket",
                    "related_id": ticket["id"],
                },
            )
            created.append(row["id"])
        await Escalation.update(
            {
                Escalation.notified: json.dumps(step.notify),
                Escalation.activity_ids: json.dumps(created),
            }
        ).where(Escalation.step_key == step.key)
        await record(
            actor,
            f"sla_{step.step}",
            "ticket",
            ticket["id"],
            after={
                "target": step.target,
                "notified": step.notify,
                "activities": created,
                "due_at": step.due_at,
                "reassigned_to": step.reassign_to,
                "customer": ticket["customer"],
            },
        )


async def escalations_of(ticket_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ticket_ids}
    if ticket_ids:
        for r in (
            await Escalation.select()
            .where(Escalation.ticket.is_in(sorted(set(ticket_ids))))
            .order_by(Escalation.at, Escalation.id)
        ):
            out[r["ticket"]].append(r)
    return out


async def sla_check_job(kehu: "Kehu") -> str | None:
    """The ``tickets.sla_check`` job: reminders before and escalations on SLA breach."""
    steps = await sla_check()
    return f"{len(steps)} SLA step(s)" if steps else None
