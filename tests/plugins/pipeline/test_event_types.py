"""The pipeline plugin's (and the pipeline ↔ contracts bridge's) part of the event catalogue:
well-formed declarations, and who may receive the events (``receivable``) by the rules of
the pipeline's own visibility."""

from typing import Any

import pytest

import kehu as kehu_api
from kehu.core.event_types import EVENT_NAME
from kehu.core.services.events import receivable
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.event_types import PIPELINE_EVENTS
from kehu.plugins.pipeline_contracts.event_types import BRIDGE_EVENTS

WITH_CONTRACTS = ["core", "pipeline", "contracts"]  # pipeline_contracts is auto-enabled


def _check_declarations(kehu: Any, declared: list[kehu_api.EventType]) -> None:
    schema = kehu.graphql().schema
    permissions = kehu.permissions()
    assert len({e.name for e in declared}) == len(declared)
    for e in declared:
        assert EVENT_NAME.match(e.name), e.name
        entity, _, action = e.name.partition(".")
        assert e.entity == entity and action, e.name
        assert e.description.strip(), e.name
        assert all(meaning.strip() for meaning in e.data_fields().values()), e.name
        if e.node is not None:
            assert schema.get_type_by_name(e.node) is not None, (e.name, e.node)
        assert e.scope in permissions, (e.name, e.scope)
        assert kehu.event_types.get(e.name) is e, f"{e.name} is not in the catalogue"


async def test_pipeline_declarations(kehu):
    _check_declarations(kehu, PIPELINE_EVENTS)
    entities = {e.entity for e in PIPELINE_EVENTS}
    assert entities == {"pipeline", "opportunity", "lead", "forecast"}


@pytest.mark.parametrize("kehu_plugins", [WITH_CONTRACTS])
async def test_bridge_declarations(kehu):
    assert "pipeline_contracts" in kehu.names
    _check_declarations(kehu, BRIDGE_EVENTS)


def _event(name: str, entity_id: int | None, **data: Any) -> kehu_api.Event:
    return kehu_api.Event(name, name.partition(".")[0], entity_id, None, data)


async def _received(user: Any, events: list[kehu_api.Event]) -> set[str]:
    return {e.id for e in await receivable(user.actor, events)}


@pytest.fixture
async def people(kehu, make_user) -> dict[str, Any]:
    return {
        "rep": await make_user("sales", team="North"),
        "mate": await make_user("sales", team="North"),
        "other": await make_user("sales", team="South"),
        "manager": await make_user("manager", team="North"),
        "finance": await make_user("finance"),
        "admin": await make_user("admin"),
    }


async def test_opportunity_events_follow_the_opportunity(
    kehu, system, people, make_customer, make_pipeline, make_opportunity
):
    p = people
    pipeline, _ = await make_pipeline("linear")
    deals, events = {}, {}
    for who in ("rep", "mate", "other"):
        customer = await make_customer(f"{who} Co", owner=p[who])
        deals[who] = await make_opportunity(customer, pipeline, owner=p[who].id)
        events[who] = _event("opportunity.stage_changed", deals[who]["id"], customer=customer["id"])
    everything = list(events.values())

    assert await _received(p["rep"], everything) == {events["rep"].id}
    assert await _received(p["other"], everything) == {events["other"].id}
    assert await _received(p["manager"], everything) == {events["rep"].id, events["mate"].id}
    assert await _received(p["admin"], everything) == {e.id for e in everything}
    assert await _received(p["finance"], everything) == {e.id for e in everything}  # "all"

    # a member of the opportunity team receives it without seeing the customer
    await services.add_team_member(system, deals["rep"]["id"], p["other"].id, "ts")
    assert await _received(p["other"], everything) == {events["rep"].id, events["other"].id}

    # a deleted opportunity falls back to its customer's visibility
    await services.delete_opportunity(system, deals["mate"]["id"])
    gone = _event("opportunity.deleted", deals["mate"]["id"], customer=deals["mate"]["customer"])
    assert await _received(p["mate"], [gone]) == {gone.id}
    assert await _received(p["manager"], [gone]) == {gone.id}
    assert await _received(p["rep"], [gone]) == set()
    assert await _received(p["other"], [gone]) == set()


async def test_lead_events_follow_the_lead(kehu, people, make_customer):
    p = people
    leads = {
        who: await services.create_lead(p[who].actor, {"name": f"Lead of {who}"})
        for who in ("rep", "mate", "other")
    }
    events = {who: _event("lead.updated", lead["id"]) for who, lead in leads.items()}
    # converted into a customer the receiver sees: the lead still decides
    other_customer = await make_customer("Other Co", owner=p["other"])
    converted = _event("lead.converted", leads["rep"]["id"], customer=other_customer["id"])
    everything = [*events.values(), converted]

    assert await _received(p["rep"], everything) == {events["rep"].id, converted.id}
    assert await _received(p["other"], everything) == {events["other"].id}
    assert await _received(p["manager"], everything) == {
        events["rep"].id,
        events["mate"].id,
        converted.id,
    }
    assert await _received(p["admin"], everything) == {e.id for e in everything}


async def test_pipeline_events(kehu, people, make_customer):
    p = people
    updated = _event("pipeline.updated", 1, stale_after_days=30)
    for who in p:  # every role holds pipeline:read
        assert await _received(p[who], [updated]) == {updated.id}, who

    customer = await make_customer("Rep Co", owner=p["rep"])
    own_lead = await services.create_lead(p["rep"].actor, {"name": "Mine"})
    mates_lead = await services.create_lead(p["mate"].actor, {"name": "Theirs"})

    def merged(leads: list[int]) -> kehu_api.Event:
        return _event(
            "pipeline.customers_merged",
            None,
            customer=customer["id"],
            merged_id=customer["id"] + 1000,
            opportunities=[],
            leads=leads,
        )

    mine, theirs, none = merged([own_lead["id"]]), merged([mates_lead["id"]]), merged([])
    everything = [mine, theirs, none]
    assert await _received(p["rep"], everything) == {mine.id, none.id}  # not the mate's lead
    assert await _received(p["mate"], everything) == set()  # does not see the customer
    assert await _received(p["manager"], everything) == {e.id for e in everything}
    assert await _received(p["other"], everything) == set()
    assert await _received(p["admin"], everything) == {e.id for e in everything}


async def test_forecast_snapshot_goes_to_those_who_see_every_owner(kehu, people):
    p = people
    snapshot = _event("forecast.snapshot", 1, period_start="2026-01-01", lines=3)
    for who, expected in (
        ("rep", set()),
        ("manager", set()),
        ("finance", {snapshot.id}),
        ("admin", {snapshot.id}),
    ):
        assert await _received(p[who], [snapshot]) == expected, who


@pytest.mark.parametrize("kehu_plugins", [WITH_CONTRACTS])
async def test_drafted_contract_follows_the_contract(kehu, people, make_customer):
    from kehu.plugins.contracts.tables import Contract

    p = people
    rep_customer = await make_customer("Rep Co", owner=p["rep"])
    other_customer = await make_customer("Other Co", owner=p["other"])
    events = {}
    for key, owner, customer in (
        ("rep", p["rep"], rep_customer),
        ("other", p["other"], other_customer),
        # the rep's contract on the other rep's customer: neither sees all of it
        ("mixed", p["rep"], other_customer),
    ):
        row = (
            await Contract.insert(
                Contract(
                    number=f"HT-{key}",
                    customer=customer["id"],
                    currency="CNY",
                    owner=owner.id,
                    team=owner.team_id,
                )
            ).returning(Contract.id)
        )[0]
        events[key] = _event(
            "contract.drafted_from_opportunity", row["id"], customer=customer["id"], opportunity=1
        )
    everything = list(events.values())

    assert await _received(p["rep"], everything) == {events["rep"].id}
    assert await _received(p["other"], everything) == {events["other"].id}
    assert await _received(p["manager"], everything) == {events["rep"].id}
    assert await _received(p["admin"], everything) == {e.id for e in everything}
