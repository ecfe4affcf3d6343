"""Transition policy: linear order, the backward edge, required fields, approval threshold,
non-linear pipelines, win/lose/reopen and stage history."""

from datetime import date, timedelta

import pytest

from kehu.core.errors import Conflict, Forbidden, ValidationFailed
from kehu.core.money import Money
from kehu.core.services.common import now
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t

NEEDS = "Initial Contact & Needs Assessment"
PRESENT = "Presentation & Proposal"
NEGOTIATE = "Negotiation & Objection Handling"


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.errors[0].code


async def _walk(actor, opp, stages, names):
    for name in names:
        opp = await services.move_stage(actor, opp["id"], stages[name]["id"])
    return opp


async def test_linear_order_backward_edge_and_required_fields(
    kehu, system, make_customer, make_pipeline, make_opportunity
):
    pipeline, st = await make_pipeline("linear")
    acme = await make_customer()
    opp = await make_opportunity(acme, pipeline, expected_close_date=date(2030, 1, 1))
    assert (opp["stage"], opp["probability"]) == (st["Prospecting"]["id"], 10)

    with pytest.raises(ValidationFailed) as exc:  # skipping a stage
        await services.move_stage(system, opp["id"], st[PRESENT]["id"])
    assert _code(exc) == "STAGE_SKIPPED" and "may not be skipped" in exc.value.errors[0].message

    opp = await services.move_stage(system, opp["id"], st[NEEDS]["id"])
    with pytest.raises(ValidationFailed) as exc:  # Presentation requires a recorded need
        await services.move_stage(system, opp["id"], st[PRESENT]["id"])
    assert _code(exc) == "REQUIRED_FIELD_MISSING" and "needs" in exc.value.errors[0].message
    await services.add_need(system, opp["id"], "Faster quoting", 5, 2, 4)
    opp = await _walk(system, opp, st, [PRESENT, NEGOTIATE, "Closing"])
    assert (opp["probability"], opp["forecast_category"]) == (80, "commit")

    with pytest.raises(ValidationFailed) as exc:  # backward move not configured
        await services.move_stage(system, opp["id"], st[PRESENT]["id"])
    assert _code(exc) == "BACKWARD_NOT_ALLOWED"
    opp = await services.move_stage(system, opp["id"], st[NEGOTIATE]["id"])  # renegotiate
    assert opp["stage"] == st[NEGOTIATE]["id"]
    with pytest.raises(ValidationFailed) as exc:  # from Negotiation the win is two steps away
        await services.win_opportunity(system, opp["id"])
    assert _code(exc) == "STAGE_SKIPPED"
    with pytest.raises(ValidationFailed) as exc:
        await services.move_stage(system, opp["id"], st["Closed Lost"]["id"])
    assert _code(exc) == "CLOSED_STAGE"

    opp = await services.move_stage(system, opp["id"], st["Closing"]["id"])
    opp = await services.win_opportunity(system, opp["id"])
    assert (opp["status"], opp["stage"], opp["probability"]) == (
        "won",
        st["Follow-up & Relationship"]["id"],
        100,
    )
    assert opp["cycle_seconds"] is not None and opp["closed_at"] is not None
    with pytest.raises(ValidationFailed) as exc:
        await services.move_stage(system, opp["id"], st[NEGOTIATE]["id"])
    assert _code(exc) == "OPPORTUNITY_CLOSED"

    history = (await services.history([opp["id"]]))[opp["id"]]
    assert [(h["kind"], h["to_stage"]) for h in history] == [
        ("created", st["Prospecting"]["id"]),
        ("moved", st[NEEDS]["id"]),
        ("moved", st[PRESENT]["id"]),
        ("moved", st[NEGOTIATE]["id"]),
        ("moved", st["Closing"]["id"]),
        ("moved", st[NEGOTIATE]["id"]),
        ("moved", st["Closing"]["id"]),
        ("won", st["Follow-up & Relationship"]["id"]),
    ]
    assert all(h["seconds"] is not None for h in history[:-1])
    assert history[-1]["left_at"] is None and history[3]["from_stage"] == st[PRESENT]["id"]


async def test_required_amount_and_close_date(
    kehu, system, make_customer, make_pipeline, make_opportunity
):
    pipeline, st = await make_pipeline("linear")
    opp = await make_opportunity(await make_customer(), pipeline, amount=0)
    await services.add_need(system, opp["id"], "Need", 3, 3, 3)
    opp = await _walk(system, opp, st, [NEEDS, PRESENT])
    with pytest.raises(ValidationFailed) as exc:
        await services.move_stage(system, opp["id"], st[NEGOTIATE]["id"])
    assert _code(exc) == "REQUIRED_FIELD_MISSING" and "amount" in exc.value.errors[0].message
    opp = await services.update_opportunity(
        system, opp["id"], opp["version"], {"amount": Money(500_00, "CNY")}
    )
    opp = await services.move_stage(system, opp["id"], st[NEGOTIATE]["id"])
    with pytest.raises(ValidationFailed) as exc:
        await services.move_stage(system, opp["id"], st["Closing"]["id"])
    assert "expected_close_date" in exc.value.errors[0].message


async def test_approval_threshold(
    kehu, system, make_user, make_customer, make_pipeline, make_opportunity
):
    pipeline, st = await make_pipeline(
        "linear_with_approval", approval_threshold=Money.from_decimal("500000", "CNY")
    )
    rep = await make_user("sales", team="North")
    manager = await make_user("manager", team="North")
    acme = await make_customer(owner=rep)
    path = ["Needs Analysis & Positioning", "Demo & Promotion", "Negotiation & Quotation"]
    close = {"expected_close_date": date(2030, 6, 30)}

    small = await make_opportunity(acme, pipeline, amount=500_000, actor=rep.actor, **close)
    small = await _walk(rep.actor, small, st, path)  # exactly the threshold: no approval
    small = await services.move_stage(
        rep.actor, small["id"], st["Contract Signing & Execution"]["id"]
    )
    assert (await services.win_opportunity(rep.actor, small["id"]))["status"] == "won"

    big = await make_opportunity(acme, pipeline, amount=500_001, actor=rep.actor, **close)
    big = await _walk(rep.actor, big, st, path)
    with pytest.raises(ValidationFailed) as exc:  # may not skip Decision Approval
        await services.move_stage(rep.actor, big["id"], st["Contract Signing & Execution"]["id"])
    assert _code(exc) == "APPROVAL_REQUIRED" and "Decision Approval" in exc.value.errors[0].message
    big = await services.move_stage(rep.actor, big["id"], st["Decision Approval"]["id"])
    with pytest.raises(ValidationFailed) as exc:  # must be approved before moving on
        await services.move_stage(rep.actor, big["id"], st["Contract Signing & Execution"]["id"])
    assert _code(exc) == "APPROVAL_REQUIRED"
    with pytest.raises(Forbidden):
        await services.approve_opportunity(rep.actor, big["id"])
    await services.approve_opportunity(manager.actor, big["id"])
    big = await services.move_stage(rep.actor, big["id"], st["Contract Signing & Execution"]["id"])
    assert big["stage"] == st["Contract Signing & Execution"]["id"]
    # renegotiating and raising the amount voids the approval
    big = await services.move_stage(rep.actor, big["id"], st["Negotiation & Quotation"]["id"])
    big = await services.update_opportunity(
        rep.actor, big["id"], big["version"], {"amount": Money(600_000_00, "CNY")}
    )
    assert big["approved_at"] is None


async def test_non_linear_allows_any_move(
    kehu, system, make_customer, make_pipeline, make_opportunity
):
    pipeline, st = await make_pipeline("consultative")
    opp = await make_opportunity(await make_customer(), pipeline)
    opp = await services.move_stage(system, opp["id"], st["Negotiation & Contract"]["id"])
    opp = await services.move_stage(system, opp["id"], st["Needs Analysis & Goal Setting"]["id"])
    opp = await services.win_opportunity(system, opp["id"])  # straight to won
    assert opp["status"] == "won"


async def test_lose_reopen_and_versions(
    kehu, system, make_user, make_customer, make_pipeline, make_opportunity
):
    pipeline, st = await make_pipeline("linear")
    opp = await make_opportunity(await make_customer(), pipeline)
    opp = await services.move_stage(system, opp["id"], st[NEEDS]["id"])
    with pytest.raises(ValidationFailed) as exc:
        await services.lose_opportunity(system, opp["id"], "bored")
    assert _code(exc) == "INVALID_CHOICE"
    with pytest.raises(Conflict):
        await services.lose_opportunity(
            system, opp["id"], "price", expected_version=opp["version"] - 1
        )
    lost = await services.lose_opportunity(system, opp["id"], "competitor", "Went with X")
    assert (lost["status"], lost["stage"], lost["probability"], lost["weighted_basis"]) == (
        "lost",
        st["Closed Lost"]["id"],
        0,
        0,
    )
    assert lost["lost_reason"] == "competitor"
    reopened = await services.reopen_opportunity(system, opp["id"])
    assert (reopened["status"], reopened["stage"], reopened["probability"]) == (
        "open",
        st[NEEDS]["id"],
        20,
    )
    assert reopened["closed_at"] is None and reopened["lost_reason"] == ""
    kinds = [h["kind"] for h in (await services.history([opp["id"]]))[opp["id"]]]
    assert kinds == ["created", "moved", "lost", "reopened"]


async def test_time_in_stage(kehu, system, make_customer, make_pipeline, make_opportunity):
    pipeline, st = await make_pipeline("linear")
    opp = await make_opportunity(await make_customer(), pipeline)
    opp = await services.move_stage(system, opp["id"], st[NEEDS]["id"])
    # pretend the deal was created 3 days ago and moved 1 day ago
    h = t.StageChange
    rows = (await services.history([opp["id"]]))[opp["id"]]
    start, moved = now() - timedelta(days=3), now() - timedelta(days=1)
    await h.update({h.at: start, h.left_at: moved, h.seconds: 2 * 86400}).where(
        h.id == rows[0]["id"]
    )
    await h.update({h.at: moved}).where(h.id == rows[1]["id"])
    rows = (await services.history([opp["id"]]))[opp["id"]]
    spent = dict(services.time_in_stages(rows, at=moved + timedelta(hours=12)))
    assert spent == {st["Prospecting"]["id"]: 2 * 86400, st[NEEDS]["id"]: 12 * 3600}
    # the aggregate averages completed stays only
    averages = await services.average_time_in_stage(system, pipeline["id"])
    assert averages == {st["Prospecting"]["id"]: 2}


async def test_kanban_position(kehu, system, make_customer, make_pipeline, make_opportunity):
    pipeline, _ = await make_pipeline("linear")
    acme = await make_customer()
    a, b, c = [await make_opportunity(acme, pipeline, name=n) for n in "abc"]
    assert [a["kanban_position"], b["kanban_position"], c["kanban_position"]] == [0, 1, 2]
    await services.set_kanban_position(system, c["id"], 0)
    page = await services.list_opportunities(
        system, services.OpportunityFilter(stage_id=a["stage"]), order_by="KANBAN", descending=False
    )
    assert [r["name"] for r in page.rows] == ["c", "a", "b"]
    assert [r["kanban_position"] for r in page.rows] == [0, 1, 2]
    found = await services.list_opportunities(system, services.OpportunityFilter(search="B"))
    assert [r["name"] for r in found.rows] == ["b"]


async def test_permissions_and_templates(kehu, make_user, make_pipeline):
    rep = await make_user("sales")
    with pytest.raises(Forbidden):
        await services.create_pipeline(rep.actor, "Mine", template="linear")
    with pytest.raises(ValidationFailed) as exc:
        await make_pipeline("waterfall")
    assert _code(exc) == "INVALID_CHOICE"
    for key in ("linear", "linear_with_approval", "consultative", "customer_journey", "online"):
        _, stages = await make_pipeline(key)
        assert sum(s["is_won"] for s in stages.values()) == 1
    assert "pipeline:manage" in kehu.permissions()
