"""Satisfaction surveys through the public link (single-use token, nothing else revealed),
churn scoring from plugin signals and the alert job."""

from datetime import datetime, timedelta

from kehu import hookimpl
from kehu.core.services import activities
from kehu.core.tables import Activity, Customer
from kehu.plugins.tickets.hookspecs import Signal
from kehu.plugins.tickets.services import churn, surveys, tickets
from kehu.plugins.tickets.tables import ChurnAlert, Survey

from .conftest import MON, H, gid


async def test_survey_created_on_close_and_answered_once(
    kehu, make_user, make_customer, kehu_client
):
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME Secret Corp", owner=agent)
    t = await tickets.create_ticket(
        agent.actor, acme["id"], {"subject": "Internal subject", "channel": "phone"}, now=MON
    )
    await tickets.add_message(agent.actor, t["id"], "hi", now=MON + H)
    await tickets.change_status(agent.actor, t["id"], "resolved", now=MON + 2 * H)
    await tickets.change_status(agent.actor, t["id"], "closed", now=MON + 3 * H)
    on_close = await Survey.select().where(Survey.ticket == t["id"])
    assert [s["kind"] for s in on_close] == ["csat"]  # default survey_on_close

    row, token = await surveys.create_survey(agent.actor, acme["id"], "csat", ticket_id=t["id"])
    assert row["token_hash"] == surveys.hash_token(token) and token not in row.values()

    shown = await kehu_client.get(f"/surveys/{token}")
    assert shown.status_code == 200
    assert shown.json() == {
        "kind": "csat",
        "question": surveys.QUESTIONS["csat"],
        "customer": "ACME Secret Corp",
        "scale": {"min": 1, "max": 5},
        "dimensions": ["response_speed", "accuracy", "attitude", "professionalism"],
    }
    assert "Internal subject" not in shown.text and str(agent.username) not in shown.text

    bad = await kehu_client.post(f"/surveys/{token}", json={"score": 9})
    assert (
        bad.status_code == 400
        and (await Survey.select().where(Survey.id == row["id"]).first())["answered_at"] is None
    )
    answer = {"score": 4, "dimensions": {"attitude": 5, "accuracy": 3}, "comment": "ok"}
    first = await kehu_client.post(f"/surveys/{token}", json=answer)
    assert first.status_code == 200, first.text
    again = await kehu_client.post(f"/surveys/{token}", json=answer)
    assert again.status_code == 404
    assert (await kehu_client.get(f"/surveys/{token}")).status_code == 404
    unknown = await kehu_client.get("/surveys/not-a-token")
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"
    assert again.json() == unknown.json()  # answered and unknown look the same
    saved = await Survey.select().where(Survey.id == row["id"]).first()
    assert saved["score"] == 4 and saved["comment"] == "ok"

    sat = (await surveys.satisfaction_of([acme["id"]]))[acme["id"]]
    assert (sat.csat, sat.csat_responses, sat.nps) == (100.0, 1, None)


async def test_expired_survey_is_gone(kehu, make_customer, system):
    acme = await make_customer()
    past = datetime.now(MON.tzinfo) - timedelta(days=60)
    _, token = await surveys.create_survey(system, acme["id"], "nps", now=past)
    try:
        await surveys.public_survey(token)
    except surveys.SurveyGone:
        pass
    else:
        raise AssertionError("expired survey shown")


def test_csat_and_nps_formulas():
    assert surveys.csat_percent([5, 4, 3, 1]) == 50.0
    assert surveys.nps([10, 9, 8, 7, 6, 0]) == 0
    assert surveys.nps([10, 10, 9, 3]) == 50
    assert surveys.csat_percent([]) is None and surveys.nps([]) is None


class OverdueReceivables:
    """A stand-in for contracts: overdue receivables as a churn signal."""

    def __init__(self, customer_id):
        self.customer_id = customer_id

    @hookimpl
    def kehu_churn_signals(self, customer_ids, now):
        if self.customer_id not in customer_ids:
            return []
        return [Signal(self.customer_id, "contracts", "Receivable 45 days overdue", 20, 1.0)]


async def _answer(system, customer_id, kind, score):
    _, token = await surveys.create_survey(system, customer_id, kind)
    await surveys.answer_survey(token, score)


async def test_churn_score_alert_once_and_declining(kehu, make_user, make_customer, system, gql):
    rep = await make_user("sales", team="North")
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=rep)
    calm = await make_customer("Calm", owner=rep)
    await customers_active(system, [acme, calm])
    now = datetime.now(MON.tzinfo)
    for i in range(2):
        await tickets.create_ticket(
            agent.actor,
            acme["id"],
            {
                "subject": f"Complaint {i}",
                "channel": "phone",
                "type": "complaint",
                "complaint_category": "slow_response",
            },
            now=now - timedelta(hours=1),
        )
    await _answer(system, acme["id"], "csat", 1)
    await _answer(system, acme["id"], "nps", 3)
    for days in (100, 110, 120, 130):  # falling activity: 4 in the previous 90 days, 0 since
        await activities.log_activity(
            system,
            acme["id"],
            {"subject": "Call", "kind": "call", "occurred_at": now - timedelta(days=days)},
        )

    risk = await churn.risks([acme["id"], calm["id"]], now)
    reasons = {(s.source, s.reason) for s in risk[acme["id"]].signals}
    assert ("tickets", "2 open complaint(s)") in reasons
    assert ("tickets", "1 low CSAT answer(s) (≤ 2)") in reasons
    assert ("tickets", "1 NPS detractor(s) (≤ 6)") in reasons
    assert any(src == "core" and "Activity fell from 4 to 0" in r for src, r in reasons)
    assert risk[acme["id"]].score == 30 + 20 + 15 + 25  # 90
    assert risk[calm["id"]].score == 0 and risk[calm["id"]].signals == []

    plugin = OverdueReceivables(calm["id"])
    kehu.pm.register(plugin, name="receivables")
    try:
        assert (await churn.risks([calm["id"]], now))[calm["id"]].score == 20
        result = await churn.churn_check(now)
        assert result.raised == [acme["id"]] and result.declined == [acme["id"]]
        again = await churn.churn_check(now)
        assert again.raised == []  # not duplicated while open
    finally:
        kehu.pm.unregister(plugin)
    alerts = await ChurnAlert.select().where(ChurnAlert.customer == acme["id"])
    assert len(alerts) == 1 and alerts[0]["open"] and alerts[0]["score"] == 90
    task = await Activity.select().where(Activity.id == alerts[0]["activity_id"]).first()
    assert (task["owner"], task["kind"], task["status"], task["related_type"]) == (
        rep.id,
        "task",
        "planned",
        "churn_alert",
    )
    stage = await Customer.select(Customer.lifecycle_stage).where(Customer.id == acme["id"])
    assert stage[0]["lifecycle_stage"] == "declining"

    query = """query($id: ID!) { customer(id: $id) { lifecycleStage churnRisk { score }
        churnAlert { score task { subject owner { username } } } } }"""
    body = await gql(query, {"id": gid("Customer", acme)}, user=rep)
    customer = body["data"]["customer"]
    assert customer["lifecycleStage"] == "DECLINING" and customer["churnRisk"]["score"] == 90
    assert customer["churnAlert"]["score"] == 90
    assert customer["churnAlert"]["task"]["owner"]["username"] == rep.username
    assert customer["churnAlert"]["task"]["subject"].startswith("Churn risk 90")

    await churn.record_outcome(rep.actor, acme["id"], "Visited; discount agreed")
    closed = await ChurnAlert.select().where(ChurnAlert.customer == acme["id"]).first()
    assert not closed["open"] and closed["outcome"] == "Visited; discount agreed"


async def customers_active(system, rows):
    from kehu.core.services.customers import update_customer

    for row in rows:
        await update_customer(system, row["id"], row["version"], {"lifecycle_stage": "active"})


class Collector:
    def __init__(self):
        self.events = []

    @hookimpl
    def kehu_event(self, event):
        self.events.append(event)


async def test_survey_token_goes_out_in_the_event_not_the_audit_log(kehu, make_customer, system):
    from kehu.core.tables import AuditLog

    acme = await make_customer()
    collector = Collector()
    kehu.pm.register(collector, name="collector")
    try:
        _, token = await surveys.create_survey(system, acme["id"], "csat")
    finally:
        kehu.pm.unregister(collector)
    [event] = [e for e in collector.events if e.name == "ticket_survey.created"]
    assert event.data["token"] == token and event.data["path"] == f"/surveys/{token}"
    audit = await AuditLog.select().where(AuditLog.entity == "ticket_survey")
    assert len(audit) == 1 and token not in str(audit[0])
