"""The dunning ladder (催款): reminders and escalations of overdue installments."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor, system_actor
from kehu.plugins.contracts.services.common import _STATES_SQL, config, sql_date, today
from kehu.plugins.contracts.tables import DunningStep, Installment

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu


@dataclass(frozen=True)
class DunningAction:
    installment_id: int
    contract_number: str
    customer_id: int
    customer_name: str
    owner_id: int | None
    step: str
    days_overdue: int
    open_minor: int
    currency: str
    activity_id: int | None = None


async def run_dunning(
    as_of: date | None = None, *, dry_run: bool = False, actor: Actor | None = None
) -> list[DunningAction]:
    """The dunning ladder (催款): for every open installment of a signed contract, the highest
    rung whose day threshold has passed (days past due; negative = before due) is done once:
    an activity for the account manager (the customer's owner, else the contract's) and a
    ``dunning_step`` row, so a step is never repeated for the same installment. Lower rungs
    that were skipped (e.g. the job did not run) are not done afterwards. Overdue steps call
    ``kehu_receivable_overdue`` after commit."""
    from kehu.core.services.activities import log_activity

    actor = actor or system_actor()
    actor.require("receivable:dunning")
    as_of = as_of or today()
    ladder = sorted(config().dunning_ladder, key=lambda r: r.days)
    if not ladder:
        return []
    earliest = as_of - timedelta(days=ladder[0].days)
    rows = await Installment.raw(
        "SELECT i.id, i.due_date, i.amount_minor, i.paid_minor, i.credited_minor, i.currency, "
        "i.customer, k.number, k.owner AS k_owner, cu.owner AS cu_owner, cu.name AS cu_name "
        "FROM contracts_installment i JOIN contracts_contract k ON k.id = i.contract "
        "JOIN core_customer cu ON cu.id = i.customer "
        f"WHERE k.status IN ({_STATES_SQL}) AND k.status <> 'terminated' "
        "AND i.paid_minor + i.credited_minor < i.amount_minor AND i.due_date <= {} "
        "ORDER BY i.due_date, i.id",
        sql_date(earliest),
    )
    ids = [r["id"] for r in rows]
    done = set()
    if ids:
        done = {
            (d["installment"], d["step"])
            for d in await DunningStep.select(DunningStep.installment, DunningStep.step).where(
                DunningStep.installment.is_in(ids)
            )
        }
    actions = []
    for r in rows:
        due = (
            r["due_date"] if isinstance(r["due_date"], date) else date.fromisoformat(r["due_date"])
        )
        days = (as_of - due).days
        rung = [x for x in ladder if days >= x.days]
        if not rung:
            continue
        step = rung[-1].step
        if step.startswith("pre_due") and days > 0:
            continue
        if (r["id"], step) in done:
            continue
        actions.append(
            DunningAction(
                r["id"],
                r["number"],
                r["customer"],
                r["cu_name"],
                r["cu_owner"] or r["k_owner"],
                step,
                days,
                r["amount_minor"] - r["paid_minor"] - r["credited_minor"],
                r["currency"],
            )
        )
    if dry_run:
        return actions
    out = []
    for a in actions:
        async with unit_of_work():
            key = f"{a.installment_id}:{a.step}"
            if await DunningStep.exists().where(DunningStep.key == key):
                continue
            claimed = await DunningStep.insert(
                DunningStep(installment=a.installment_id, step=a.step, key=key, run_on=as_of)
            ).returning(DunningStep.id)
            money = Money(a.open_minor, a.currency)
            when = "before due" if a.days_overdue < 0 else "overdue"
            activity = await log_activity(
                actor,
                a.customer_id,
                {
                    "kind": "task",
                    "status": "planned",
                    "subject": f"Dunning {a.step}: {a.contract_number} {money} "
                    f"({abs(a.days_overdue)} days {when})"[:255],
                    "body": f"Installment {a.installment_id} of contract {a.contract_number}: "
                    f"{money} open, due {a.days_overdue} days ago.",
                    "due_at": datetime.combine(as_of, datetime.min.time(), tzinfo=UTC),
                    "owner": a.owner_id,
                    "related_type": "contracts_installment",
                    "related_id": a.installment_id,
                },
            )
            await DunningStep.update({DunningStep.activity: activity["id"]}).where(
                DunningStep.id == claimed[0]["id"]
            )
            await record(
                actor,
                "dunned",
                "installment",
                a.installment_id,
                after={
                    "customer": a.customer_id,
                    "step": a.step,
                    "days_overdue": a.days_overdue,
                    "open_minor": a.open_minor,
                    "currency": a.currency,
                    "contract_number": a.contract_number,
                    "activity": activity["id"],
                },
            )
        out.append(DunningAction(**{**a.__dict__, "activity_id": activity["id"]}))
    return out


async def dunning_job(kehu: "Kehu") -> str | None:
    """The ``contracts.dunning`` job: run the dunning ladder for today."""
    actions = await run_dunning()
    return f"{len(actions)} dunning step(s)"
