"""Every built-in event handler is idempotent: delivery is at least once (right after commit,
again after a failure, a crash or an operator's replay), so delivering an event again must
leave the effect as the first delivery left it.

Each test makes the event happen through the service layer, notes the effect, redelivers the
event to the plugin's subscriber (``replay`` + ``drain``, as an operator would) and asserts
that nothing changed: no second commission line, survey, drafted contract, mail, task or
loyalty award. The handlers found (``kehu_event`` and published event hooks):

- incentives: ``kehu_opportunity_won``, ``kehu_opportunity_stage_changed``,
  ``kehu_invoice_issued``, ``kehu_payment_received``, ``kehu_payment_allocated``,
  ``kehu_refund_issued`` and ``kehu_event`` (``credit.credit_note``): ledger recomputation;
- tickets: ``kehu_opportunity_won`` (the won-deal survey) and ``kehu_event`` (survey
  invitation, SLA reminder and escalation, churn alert mails);
- pipeline_contracts: ``kehu_opportunity_won`` (``draft_contract_on_won``);
- contracts: ``kehu_event`` (dunning reminder and approval request mails);
- the loyalty example: ``kehu_event`` (``activity.created`` → points).
"""

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core.delivery import event_of
from kehu.core.money import Money
from kehu.core.services import activities, contacts, customers
from kehu.core.services.common import now
from kehu.core.services.events import replay
from kehu.core.tables import Activity, EventDelivery, EventRecord, MailMessage, User
from kehu.plugins.contracts import services
from kehu.plugins.contracts import services as contracts
from kehu.plugins.contracts.tables import Contract, DunningStep
from kehu.plugins.incentives.services import ledger, periods, plans
from kehu.plugins.incentives.tables import CommissionLine
from kehu.plugins.pipeline import services as pipeline
from kehu.plugins.pipeline_contracts import plugin as bridge
from kehu.plugins.pipeline_contracts import services as bridge_services
from kehu.plugins.pipeline_contracts.tables import ContractSource
from kehu.plugins.tickets import plugin as tickets_plugin
from kehu.plugins.tickets.services import churn, escalation, tickets
from kehu.plugins.tickets.tables import ChurnAlert, Escalation, Survey, Ticket

MON = datetime(2026, 11, 16, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a working Monday
H, M = timedelta(hours=1), timedelta(minutes=1)
SETTINGS = {
    "plugin_settings": {
        "tickets": {
            "survey_on_deal_won": ["nps"],
            "assignment": {"North": "round_robin"},
            "reminder_lead_minutes": 30,
            "churn_threshold": 30,  # two open complaints raise an alert
        },
        "pipeline_contracts": {"draft_contract_on_won": True},
    }
}
CLAUSES = {
    "title": "Supply",
    "delivery_deadline": date(2026, 3, 1),
    "payment_method": "bank_transfer",
    "payment_terms": "30/70",
    "breach_liability": "10%",
    "acceptance_terms": "15 days",
}
# outbox bookkeeping that a replay itself writes; every other table must stay as it was
BOOKKEEPING = {"core_event", "core_event_delivery", "core_event_subscriber", "core_audit_log"}


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core", "pipeline", "contracts", "incentives", "tickets"]  # + pipeline_contracts


@pytest.fixture
def kehu_settings_overrides() -> dict[str, Any]:
    return SETTINGS


def cny(amount: str) -> Money:
    return Money.from_decimal(amount, "CNY")


# -- redelivery ---------------------------------------------------------------------------


async def outbox(*names: str, entity_id: int | None = None) -> list[dict[str, Any]]:
    """Outbox rows of the events named, in commit order."""
    query = EventRecord.select().where(EventRecord.name.is_in(list(names)))
    if entity_id is not None:
        query = query.where(EventRecord.entity_id == entity_id)
    return await query.order_by(EventRecord.id)


async def redeliver(kehu: Any, system: Any, subscriber: str, events: list[dict[str, Any]]) -> None:
    """Deliver ``events`` again to ``subscriber`` (an operator's replay, the same event ids)
    and check that the handler ran and succeeded for each of them."""
    assert events, "nothing to redeliver"
    [sub] = [s for s in await kehu.events.subscribers() if s.name == subscriber]
    events = [e for e in events if sub.wants(event_of(e))]  # what it handles (on_events)
    assert events, f"{subscriber} handles none of these events"
    refs = list(dict.fromkeys(e["event_id"] for e in events))
    assert await replay(system, event_refs=refs, subscriber=subscriber) == len(refs)
    await kehu.events.drain()
    seqs = sorted({e["id"] for e in events})
    rows = await EventDelivery.select().where(
        EventDelivery.subscriber == subscriber, EventDelivery.event.is_in(seqs)
    )
    assert sorted((r["event"], r["status"], r["attempts"], r["last_error"]) for r in rows) == [
        (seq, "delivered", 1, "") for seq in seqs
    ]


async def rows(table: Any) -> list[dict[str, Any]]:
    return await table.select().order_by(table.id)


async def snapshot(kehu: Any) -> dict[str, list[dict[str, Any]]]:
    """Every row of every enabled table but the outbox bookkeeping."""
    return {
        t._meta.tablename: await rows(t)
        for t in kehu.tables()
        if t._meta.tablename not in BOOKKEEPING
    }


async def with_email(*users: Any) -> None:
    for user in users:
        await User.update({User.email: f"{user.username}@example.com"}).where(User.id == user.id)


async def mails(*kinds: str) -> list[tuple[str, str, str]]:
    query = MailMessage.select().order_by(MailMessage.id)
    if kinds:
        query = query.where(MailMessage.kind.is_in(list(kinds)))
    return [(m["kind"], m["to_address"], m["dedup_key"]) for m in await query]


# -- scenarios ------------------------------------------------------------------------------


async def won_deal(
    system: Any, owner: Any, customer: dict[str, Any] | None = None, amount: str = "1000.00"
) -> dict[str, Any]:
    if customer is None:
        customer = await customers.create_customer(
            system,
            {"name": "Won Co", "owner": owner.id, "email": "buyer@example.com"},
            allow_duplicate=True,
        )
    flow = await pipeline.create_pipeline(system, f"Sales {now().timestamp()}", template="online")
    opp = await pipeline.create_opportunity(
        system,
        {
            "name": "ERP rollout",
            "customer": customer["id"],
            "pipeline": flow["id"],
            "amount": cny(amount),
            "owner": owner.id,
        },
    )
    return await pipeline.win_opportunity(system, opp["id"])


async def signed_contract(
    system: Any, customer: dict[str, Any], total: str = "1000.00"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row = await contracts.create_contract(
        system,
        customer["id"],
        {
            **CLAUSES,
            "lines": [
                {"product": "P", "specification": "S", "quantity": 1, "unit_price": cny(total)}
            ],
        },
    )
    row = await contracts.submit_contract(system, row["id"])
    while row["status"] == "pending_approval":
        row = await contracts.decide_approval(system, row["id"], True, "ok")
    row = await contracts.sign_contract(system, row["id"], signed_on=date(2026, 1, 5))
    return row, (await services.installments_by_contract([row["id"]]))[row["id"]]


FLOW_EVENTS = (
    "opportunity.won",
    "opportunity.stage_changed",
    "invoice.issued",
    "credit.credit_note",
    "payment.received",
    "payment.allocated",
    "payment.refunded",
)


async def commission_flow(system: Any, make_user: Any) -> None:
    """A rep on each commission basis: a won deal (won), an invoice and a credit note
    (invoiced), a payment against a contract, its refund and an on-account payment allocated
    to an installment (collected); a backdated payment in a period paid out since."""
    reps = {}
    for basis in ("won", "invoiced", "collected"):
        reps[basis] = await make_user("sales", username=f"{basis}_rep")
        plan = await plans.create_plan(
            system,
            {
                "name": f"{basis} plan",
                "basis": basis,
                "rate": "0.1",
                "effective_from": date(2020, 1, 1),
            },
        )
        await plans.assign_plan(system, plan["id"], user_id=reps[basis].id)
    await won_deal(system, reps["won"])

    billed = await customers.create_customer(
        system, {"name": "Billed Co", "owner": reps["invoiced"].id}
    )
    contract, inst = await signed_contract(system, billed)
    await services.issue_invoice(system, contract["id"], installment_id=inst[0]["id"])
    await services.issue_credit_note(system, inst[0]["id"], cny("100.00"), "discount")

    paying = await customers.create_customer(
        system, {"name": "Paying Co", "owner": reps["collected"].id}
    )
    contract, inst = await signed_contract(system, paying)
    pay = await services.record_payment(
        system,
        paying["id"],
        cny("500.00"),
        contract_id=contract["id"],
        allocations=[(inst[0]["id"], cny("300.00"))],
    )
    await services.refund_payment(system, pay.payment["id"], cny("200.00"), "overpaid")
    await services.record_payment(
        system, paying["id"], cny("100.00"), allocations=[(inst[1]["id"], cny("100.00"))]
    )
    # a payment of last quarter, paid out before this quarter's events are redelivered
    await services.record_payment(
        system,
        paying["id"],
        cny("50.00"),
        contract_id=contract["id"],
        received_on=date(2026, 8, 10),
    )
    await ledger.run_payout(system, "2026-Q3")


# -- incentives ---------------------------------------------------------------------------


async def test_commission_recomputation_is_idempotent_per_event(kehu, system, make_user):
    await commission_flow(system, make_user)
    before = await rows(CommissionLine)
    kinds = {(x["source_key"].partition(":")[0], x["kind"]) for x in before}
    assert kinds == {
        ("won", "commission"),
        ("invoice", "commission"),
        ("credit", "clawback"),
        ("payment", "commission"),
        ("refund", "clawback"),
        ("alloc", "commission"),
    }
    # 10 % of: the 1000.00 deal, the 300.00 invoice less its 100.00 credit note, the 500.00
    # payment less its 200.00 refund, the 100.00 allocation, the 50.00 of last quarter
    assert sorted(x["amount_minor"] for x in before) == sorted(
        [10000, 3000, -1000, 5000, -2000, 1000, 500]
    )
    assert {x["period"] for x in before} == {
        "2026-Q3",
        periods.containing(date.today(), "quarter").key,
    }
    for name in FLOW_EVENTS:
        events = await outbox(name)
        assert events, name
        await redeliver(kehu, system, "plugin:incentives", events)
        assert await rows(CommissionLine) == before, name
    assert sum(x["amount_minor"] for x in await rows(CommissionLine)) == 16500


async def test_reopened_deal_stays_without_commission_on_redelivery(kehu, system, make_user):
    rep = await make_user("sales")
    plan = await plans.create_plan(
        system, {"name": "Won", "basis": "won", "rate": "0.1", "effective_from": date(2020, 1, 1)}
    )
    await plans.assign_plan(system, plan["id"], user_id=rep.id)
    opp = await won_deal(system, rep)
    assert [x["amount_minor"] for x in await rows(CommissionLine)] == [10000]
    await pipeline.reopen_opportunity(system, opp["id"])
    assert await rows(CommissionLine) == []
    # the old won event comes again: the deal is open, it earns nothing
    await redeliver(
        kehu,
        system,
        "plugin:incentives",
        await outbox("opportunity.won", "opportunity.stage_changed"),
    )
    assert await rows(CommissionLine) == []


async def test_late_delivery_of_a_win_recomputes_the_period_it_was_won_in(kehu, system, make_user):
    """A retry or replay may come in a later period: the win's own period is recomputed."""
    from kehu.plugins.pipeline.tables import Opportunity

    rep = await make_user("sales")
    opp = await won_deal(system, rep)
    plan = await plans.create_plan(
        system, {"name": "Won", "basis": "won", "rate": "0.1", "effective_from": date(2020, 1, 1)}
    )
    await plans.assign_plan(system, plan["id"], user_id=rep.id)
    assert await rows(CommissionLine) == []  # the plan came after the first delivery
    won_at = datetime(2026, 5, 20, 12, tzinfo=UTC)
    await Opportunity.update({Opportunity.closed_at: won_at}).where(Opportunity.id == opp["id"])
    await redeliver(kehu, system, "plugin:incentives", await outbox("opportunity.won"))
    [line] = await rows(CommissionLine)
    assert (line["period"], line["amount_minor"]) == ("2026-Q2", 10000)


@pytest.fixture
def flow_state() -> dict[str, Any]:
    """Shared by the examples of one property test (the flow is set up once)."""
    return {}


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_any_redeliveries_leave_the_ledger_as_one_delivery_left_it(
    kehu, system, make_user, flow_state, data
):
    """Any sequence of redeliveries of any subsets of a payment flow's events (in any order,
    repeated) leaves the commission ledger equal to the ledger after one delivery."""
    if not flow_state:
        await commission_flow(system, make_user)
        flow_state["ledger"] = await rows(CommissionLine)
        flow_state["events"] = await outbox(*FLOW_EVENTS)
    events = flow_state["events"]
    rounds = data.draw(
        st.lists(st.lists(st.sampled_from(events), min_size=1, max_size=4), min_size=1, max_size=3),
        label="rounds",
    )
    for batch in rounds:
        await redeliver(kehu, system, "plugin:incentives", batch)
        assert await rows(CommissionLine) == flow_state["ledger"]


# -- tickets: the won-deal survey and its invitation ----------------------------------------


async def test_won_deal_survey_is_created_once(kehu, system, make_user):
    rep = await make_user("sales")
    opp = await won_deal(system, rep)
    [survey] = await rows(Survey)
    assert (survey["kind"], survey["related_type"], survey["related_id"]) == (
        "nps",
        "opportunity",
        opp["id"],
    )
    invitations = await mails("survey_invitation")
    assert [(k, to) for k, to, _ in invitations] == [("survey_invitation", "buyer@example.com")]

    won = await outbox("opportunity.won", entity_id=opp["id"])
    for _ in range(2):
        await redeliver(kehu, system, "plugin:tickets", won)
    assert await rows(Survey) == [survey]
    assert await mails("survey_invitation") == invitations
    # the invitation's own event again: still one mail
    await redeliver(kehu, system, "plugin:tickets", await outbox("ticket_survey.created"))
    assert await mails("survey_invitation") == invitations

    # won again after a reopening: one survey per deal and kind
    await pipeline.reopen_opportunity(system, opp["id"])
    await pipeline.win_opportunity(system, opp["id"])
    assert len(await outbox("opportunity.won", entity_id=opp["id"])) == 2
    assert await rows(Survey) == [survey]
    assert await mails("survey_invitation") == invitations


async def test_two_deliveries_at_once_create_one_survey(kehu, system, make_user):
    """Two processes delivering the same won deal at the same moment (each in its own
    transaction): one survey."""
    rep = await make_user("sales")
    opp = await won_deal(system, rep)
    await Survey.delete().where(Survey.related_id == opp["id"])  # not delivered yet
    for _ in range(2):
        await asyncio.gather(
            *[
                tickets_plugin.kehu_opportunity_won(
                    opportunity_id=opp["id"], customer_id=opp["customer"]
                )
                for _ in range(3)
            ]
        )
        assert [(s["related_id"], s["kind"]) for s in await rows(Survey)] == [(opp["id"], "nps")]


async def test_ticket_survey_invitation_once(kehu, system, make_user):
    agent = await make_user("support", team="North")
    customer = await customers.create_customer(system, {"name": "Ticket Co", "owner": agent.id})
    await contacts.create_contact(
        system,
        customer["id"],
        {"name": "Wang Li", "email": "wang.li@example.com", "is_primary": True},
    )
    t = await tickets.create_ticket(
        agent.actor, customer["id"], {"subject": "Broken", "channel": "phone"}
    )
    await tickets.change_status(agent.actor, t["id"], "resolved")
    await tickets.change_status(agent.actor, t["id"], "closed")
    surveys_before, invitations = await rows(Survey), await mails("survey_invitation")
    assert [s["kind"] for s in surveys_before] == ["csat"]
    assert [to for _, to, _ in invitations] == ["wang.li@example.com"]
    await redeliver(
        kehu,
        system,
        "plugin:tickets",
        await outbox("ticket_survey.created", "ticket.status_changed"),
    )
    assert await rows(Survey) == surveys_before
    assert await mails("survey_invitation") == invitations


# -- tickets: SLA and churn mails ---------------------------------------------------------


async def test_sla_reminder_and_escalation_mails_once(kehu, system, make_user):
    agent = await make_user("support", team="North")
    boss = await make_user("manager", team="North")
    await with_email(agent, boss)
    customer = await customers.create_customer(
        system, {"name": "SLA Co", "owner": agent.id, "team": agent.team_id}
    )
    t = await tickets.create_ticket(
        agent.actor,
        customer["id"],
        {"subject": "Down", "channel": "phone", "priority": "high"},
        now=MON,
    )  # FR due 14:00
    assert len(await escalation.sla_check(MON + 3 * H + 40 * M)) == 1  # reminder
    assert len(await escalation.sla_check(MON + 4 * H + 10 * M)) == 1  # breach
    events = await outbox("ticket.sla_reminder", "ticket.sla_breach", entity_id=t["id"])
    notified = [u for e in events for u in json_list(e["data"], "notified")]
    sent = await mails("sla_reminder", "sla_escalation")
    assert {k for k, _, _ in sent} == {"sla_reminder", "sla_escalation"}
    assert len(sent) == len(notified) >= 2
    effect = [await rows(Escalation), await rows(Activity), await rows(Ticket)]

    for _ in range(2):
        await redeliver(kehu, system, "plugin:tickets", events)
    assert await mails("sla_reminder", "sla_escalation") == sent
    assert [await rows(Escalation), await rows(Activity), await rows(Ticket)] == effect


def json_list(data: Any, key: str) -> list[Any]:
    return (json.loads(data) if isinstance(data, str) else data).get(key) or []


async def test_churn_alert_mail_once(kehu, system, make_user):
    rep = await make_user("sales", team="North")
    await with_email(rep)
    customer = await customers.create_customer(system, {"name": "Churn Co", "owner": rep.id})
    for i in range(2):
        await tickets.create_ticket(
            system,
            customer["id"],
            {
                "subject": f"Complaint {i}",
                "channel": "phone",
                "type": "complaint",
                "complaint_category": "slow_response",
            },
            now=now() - timedelta(hours=1),
        )
    assert (await churn.churn_check()).raised == [customer["id"]]
    sent = await mails("churn_alert")
    assert [to for _, to, _ in sent] == [f"{rep.username}@example.com"]
    effect = [await rows(ChurnAlert), await rows(Activity)]
    for _ in range(2):
        await redeliver(kehu, system, "plugin:tickets", await outbox("customer.churn_alert_raised"))
    assert await mails("churn_alert") == sent
    assert [await rows(ChurnAlert), await rows(Activity)] == effect


# -- pipeline_contracts: the drafted contract -----------------------------------------------


async def test_won_deal_drafts_one_contract(kehu, system, make_user):
    rep = await make_user("sales")
    opp = await won_deal(system, rep)
    [link] = await rows(ContractSource)
    assert link["opportunity"] == opp["id"]
    drafted = await rows(Contract)
    assert [c["status"] for c in drafted] == ["draft"]
    won = await outbox("opportunity.won", entity_id=opp["id"])
    for _ in range(2):
        await redeliver(kehu, system, "plugin:pipeline_contracts", won)
    assert await rows(ContractSource) == [link]
    assert await rows(Contract) == drafted

    # reopened and won again: the opportunity keeps its one contract
    await pipeline.reopen_opportunity(system, opp["id"])
    await pipeline.win_opportunity(system, opp["id"])
    assert await rows(ContractSource) == [link]
    assert len(await rows(Contract)) == 1


async def test_two_deliveries_at_once_draft_one_contract(kehu, system, make_user, monkeypatch):
    rep = await make_user("sales")
    off = bridge_services.BridgeSettings(draft_contract_on_won=False)
    with monkeypatch.context() as patched:  # the won event is not delivered yet
        patched.setattr(bridge_services, "settings", lambda: off)
        opp = await won_deal(system, rep)
    assert await rows(ContractSource) == []
    await asyncio.gather(*[bridge.kehu_opportunity_won(opportunity_id=opp["id"]) for _ in range(3)])
    assert [r["opportunity"] for r in await rows(ContractSource)] == [opp["id"]]
    assert len(await rows(Contract)) == 1


# -- contracts: dunning and approval mails --------------------------------------------------


async def test_dunning_reminder_mail_once(kehu, system, make_user):
    rep = await make_user("sales")
    customer = await customers.create_customer(system, {"name": "Late Co", "owner": rep.id})
    await contacts.create_contact(
        system,
        customer["id"],
        {"name": "Li Cai", "email": "finance@example.com", "buying_role": "finance"},
    )
    contract, _ = await signed_contract(system, customer)
    await services.set_schedule(
        system, contract["id"], [(date.today() - timedelta(days=3), cny("1000.00"))]
    )
    done = await services.run_dunning(date.today())
    assert [a.step for a in done] == ["reminder"]
    sent = await mails("dunning_reminder")
    assert [to for _, to, _ in sent] == ["finance@example.com"]
    effect = [await rows(DunningStep), await rows(Activity)]
    for _ in range(2):
        await redeliver(kehu, system, "plugin:contracts", await outbox("installment.dunned"))
    assert await mails("dunning_reminder") == sent
    assert [await rows(DunningStep), await rows(Activity)] == effect


async def test_approval_request_mails_once(kehu, system, make_user):
    manager = await make_user("manager")
    admin = await make_user("admin")
    await with_email(manager, admin)
    customer = await customers.create_customer(system, {"name": "Buyer Co"})
    row = await contracts.create_contract(
        system,
        customer["id"],
        {
            **CLAUSES,
            "lines": [
                {"product": "P", "specification": "S", "quantity": 1, "unit_price": cny("10.00")}
            ],
        },
    )
    await contracts.submit_contract(system, row["id"])  # department head: the managers
    await contracts.decide_approval(system, row["id"], True, "ok")  # legal: the admins
    sent = await mails("approval_request")
    assert [to for _, to, _ in sent] == [
        f"{manager.username}@example.com",
        f"{admin.username}@example.com",
    ]
    for _ in range(2):
        await redeliver(
            kehu,
            system,
            "plugin:contracts",
            await outbox("contract.transitioned", "contract_approval.approved"),
        )
    assert await mails("approval_request") == sent


# -- everything at once ---------------------------------------------------------------------


async def test_replaying_the_whole_outbox_to_every_plugin_changes_nothing(kehu, system, make_user):
    """Every kind of event above, then an operator replays every event to every plugin
    subscriber, twice: every table (but the outbox bookkeeping) is as it was."""
    start = now() - timedelta(seconds=1)
    await commission_flow(system, make_user)
    agent = await make_user("support", team="North")
    boss = await make_user("manager", team="North")
    await with_email(agent, boss, *[await _user(n) for n in ("won_rep", "collected_rep")])
    owner_of = await customers.create_customer(
        system,
        {"name": "All Co", "owner": agent.id, "team": agent.team_id, "email": "all@example.com"},
    )
    await contacts.create_contact(
        system,
        owner_of["id"],
        {"name": "Li Cai", "email": "finance@example.com", "buying_role": "finance"},
    )
    t = await tickets.create_ticket(
        agent.actor,
        owner_of["id"],
        {"subject": "Down", "channel": "phone", "priority": "high"},
        now=MON,
    )
    await escalation.sla_check(MON + 3 * H + 40 * M)
    await escalation.sla_check(MON + 4 * H + 10 * M)
    for i in range(2):
        await tickets.create_ticket(
            agent.actor,
            owner_of["id"],
            {
                "subject": f"Complaint {i}",
                "channel": "phone",
                "type": "complaint",
                "complaint_category": "slow_response",
            },
            now=now() - timedelta(hours=1),
        )
    await churn.churn_check()
    await tickets.change_status(agent.actor, t["id"], "resolved")
    await tickets.change_status(agent.actor, t["id"], "closed")
    contract, _ = await signed_contract(system, owner_of)
    await services.set_schedule(
        system, contract["id"], [(date.today() - timedelta(days=3), cny("1000.00"))]
    )
    await services.run_dunning(date.today())
    await activities.log_activity(agent.actor, owner_of["id"], {"subject": "Call"})

    kinds = {m[0] for m in await mails()}
    assert kinds >= {
        "survey_invitation",
        "sla_reminder",
        "sla_escalation",
        "churn_alert",
        "dunning_reminder",
        "approval_request",
    }
    assert await Survey.count().where(Survey.related_type == "opportunity") == 1
    assert await ContractSource.count() == 1
    before = await snapshot(kehu)
    subscribers = {s.name for s in kehu.events.plugin_subscribers()}
    assert subscribers == {
        "plugin:contracts",
        "plugin:tickets",
        "plugin:incentives",
        "plugin:pipeline_contracts",
    }
    events = [
        event_of(r) for r in await EventRecord.select().where(EventRecord.occurred_at >= start)
    ]
    wanted = sum(1 for s in kehu.events.plugin_subscribers() for e in events if s.wants(e))
    for _ in range(2):
        scheduled = await replay(system, since=start)
        await kehu.events.drain()
        assert scheduled >= wanted > 0
        failed = await EventDelivery.select().where(EventDelivery.status != "delivered")
        assert failed == []
        assert await snapshot(kehu) == before


async def _user(username: str) -> Any:
    from types import SimpleNamespace

    row = await User.select(User.id, User.username).where(User.username == username).first()
    return SimpleNamespace(id=row["id"], username=row["username"])


# -- the loyalty example ------------------------------------------------------------------


class TestLoyalty:
    @pytest.fixture
    def kehu_plugins(self) -> list[str]:
        pytest.importorskip("kehu_loyalty")
        return ["core", "loyalty"]

    @pytest.fixture
    def kehu_settings_overrides(self) -> dict[str, Any]:
        return {}

    async def _activity(self, system: Any, make_user: Any) -> tuple[Any, dict, dict]:
        from kehu_loyalty import services as loyalty

        rep = await make_user("sales")
        acme = await customers.create_customer(
            system, {"name": "ACME", "owner": rep.id}, allow_duplicate=True
        )
        activity = await activities.log_activity(rep.actor, acme["id"], {"subject": "Call"})
        assert await loyalty.balance(system, acme["id"]) == 1
        return rep, acme, activity

    async def test_points_once_per_activity(self, kehu, system, make_user, monkeypatch):
        from kehu_loyalty import services as loyalty
        from kehu_loyalty.tables import LoyaltyAccount, LoyaltyLedger

        _, acme, activity = await self._activity(system, make_user)
        before = [await rows(LoyaltyLedger), await rows(LoyaltyAccount)]
        created = await outbox("activity.created", entity_id=activity["id"])
        for _ in range(2):
            await redeliver(kehu, system, "plugin:loyalty", created)
        assert [await rows(LoyaltyLedger), await rows(LoyaltyAccount)] == before
        # points_per_activity changed since: the activity was paid already, nothing fails
        monkeypatch.setattr(kehu.plugin_settings("loyalty"), "points_per_activity", 5)
        await redeliver(kehu, system, "plugin:loyalty", created)
        assert [await rows(LoyaltyLedger), await rows(LoyaltyAccount)] == before
        assert await loyalty.balance(system, acme["id"]) == 1

    async def test_redelivery_after_a_merge(self, kehu, system, make_user):
        from kehu_loyalty import services as loyalty
        from kehu_loyalty.tables import LoyaltyLedger

        _, acme, activity = await self._activity(system, make_user)
        survivor = await customers.create_customer(
            system, {"name": "ACME Group"}, allow_duplicate=True
        )
        await customers.merge_customers(system, survivor["id"], acme["id"])
        assert await loyalty.balance(system, survivor["id"]) == 1
        before = await rows(LoyaltyLedger)
        await redeliver(
            kehu,
            system,
            "plugin:loyalty",
            await outbox("activity.created", entity_id=activity["id"]),
        )
        assert await rows(LoyaltyLedger) == before
        assert await loyalty.balance(system, survivor["id"]) == 1
        assert await loyalty.balance(system, acme["id"]) == 0
