"""More service rules: concurrency, stage edits, permissions, archived customers, owners."""

import asyncio

import pytest

from kehu.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kehu.core.money import Money
from kehu.core.services import customers
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.services.templates import StageSpec


async def test_concurrent_moves_one_wins(
    kehu, system, make_customer, make_pipeline, make_opportunity
):
    pipeline, st = await make_pipeline("consultative")
    opp = await make_opportunity(await make_customer(), pipeline)
    targets = ["Introduction & Solution", "Negotiation & Contract"]
    results = await asyncio.gather(
        *[
            services.move_stage(system, opp["id"], st[n]["id"], expected_version=opp["version"])
            for n in targets
        ],
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "dict"]
    history = (await services.history([opp["id"]]))[opp["id"]]
    assert len(history) == 2  # created + the one move that committed


async def test_stage_edits_reach_open_deals(
    kehu, system, make_user, make_customer, make_pipeline, make_opportunity
):
    pipeline, st = await make_pipeline("linear")
    acme = await make_customer()
    plain = await make_opportunity(acme, pipeline, amount=1000)
    pinned = await make_opportunity(acme, pipeline, amount=1000, probability=50)
    stage = await services.update_stage(
        system, st["Prospecting"]["id"], {"probability": 25, "forecast_category": "best_case"}
    )
    assert stage["probability"] == 25
    plain = await services.get_opportunity(system, plain["id"])
    pinned = await services.get_opportunity(system, pinned["id"])
    assert (plain["probability"], plain["weighted_basis"], plain["forecast_category"]) == (
        25,
        100_000 * 25,
        "best_case",
    )
    assert pinned["probability"] == 50
    pinned = await services.update_opportunity(
        system, pinned["id"], pinned["version"], {"probability": None}
    )  # back to the default
    assert (pinned["probability"], pinned["probability_overridden"]) == (25, False)
    with pytest.raises(ValidationFailed):
        await services.update_stage(system, st["Prospecting"]["id"], {"probability": 101})
    with pytest.raises(ValidationFailed):  # backward edges must point at earlier stages
        await services.update_stage(system, st["Prospecting"]["id"], {"back_to": ["Closing"]})
    rep = await make_user("sales")
    with pytest.raises(Forbidden):
        await services.update_stage(rep.actor, st["Prospecting"]["id"], {"probability": 1})
    # renaming a stage keeps the backward edges that point at it
    negotiation = st["Negotiation & Objection Handling"]
    renamed = await services.update_stage(system, negotiation["id"], {"name": " Negotiation "})
    assert renamed["name"] == "Negotiation"
    closing = (await services.stages_by_ids([st["Closing"]["id"]]))[st["Closing"]["id"]]
    assert closing["back_to"] == ["Negotiation"]


async def test_custom_pipeline_and_versions(kehu, system):
    specs = [
        StageSpec("Lead in", 10),
        StageSpec("Offer", 50, "commit", required_fields=("line_items",)),
        StageSpec("Won", 100, "closed", is_closed=True, is_won=True),
    ]
    row = await services.create_pipeline(
        system, "Custom", stages=specs, transition_policy="non_linear", stale_after_days=3
    )
    assert (row["transition_policy"], row["stale_after_days"], row["is_default"]) == (
        "non_linear",
        3,
        True,
    )
    with pytest.raises(ValidationFailed) as exc:
        await services.create_pipeline(
            system, "Bad", stages=[StageSpec("A", 10, required_fields=("favourite_colour",))]
        )
    assert "favourite_colour" in exc.value.errors[0].message
    with pytest.raises(ValidationFailed) as exc:
        await services.create_pipeline(system, "Custom", template="online")
    assert exc.value.errors[0].code == "DUPLICATE"
    updated = await services.update_pipeline(
        system, row["id"], 1, {"name": "Renamed", "stale_after_days": 5}
    )
    assert (updated["name"], updated["version"]) == ("Renamed", 2)
    with pytest.raises(Conflict):
        await services.update_pipeline(system, row["id"], 1, {"name": "Again"})


async def test_line_items_required_to_enter(kehu, system, make_customer):
    specs = [
        StageSpec("Lead in", 10),
        StageSpec("Offer", 50, required_fields=("line_items",)),
        StageSpec("Won", 100, "closed", is_closed=True, is_won=True),
    ]
    pipeline = await services.create_pipeline(
        system, "Items", stages=specs, transition_policy="linear"
    )
    stages = {
        s["name"]: s for s in (await services.stages_by_pipeline([pipeline["id"]]))[pipeline["id"]]
    }
    opp = await services.create_opportunity(
        system, {"name": "D", "customer": (await make_customer())["id"]}
    )
    with pytest.raises(ValidationFailed) as exc:
        await services.move_stage(system, opp["id"], stages["Offer"]["id"])
    assert exc.value.errors[0].code == "REQUIRED_FIELD_MISSING"
    item = await services.add_line_item(system, opp["id"], "Seat", 3, Money(999, "CNY"))
    assert services.line_total(item) == Money(2997, "CNY")
    await services.move_stage(system, opp["id"], stages["Offer"]["id"])
    await services.remove_line_item(system, item["id"])
    assert (await services.line_items_of([opp["id"]]))[opp["id"]] == []


async def test_permissions_and_customers(
    kehu, system, make_user, make_customer, make_pipeline, make_opportunity
):
    await make_pipeline("linear")
    rep = await make_user("sales", team="North")
    other = await make_user("sales", team="North")
    support = await make_user("support", team="North")
    acme = await make_customer(owner=rep)
    with pytest.raises(Forbidden):  # giving a deal to someone else needs opportunity:assign
        await services.create_opportunity(
            rep.actor, {"name": "D", "customer": acme["id"], "owner": other.id}
        )
    with pytest.raises(Forbidden):
        await services.create_opportunity(support.actor, {"name": "D", "customer": acme["id"]})
    hidden = await make_customer("Hidden", owner=other)
    with pytest.raises(NotFound):
        await services.create_opportunity(rep.actor, {"name": "D", "customer": hidden["id"]})
    opp = await make_opportunity(acme, actor=rep.actor)
    assert (opp["owner"], opp["team"]) == (rep.id, rep.team_id)
    with pytest.raises(Forbidden):
        await services.delete_opportunity(rep.actor, opp["id"])
    await customers.archive_customer(system, acme["id"])
    with pytest.raises(ValidationFailed) as exc:
        await make_opportunity(acme, actor=rep.actor)
    assert exc.value.errors[0].code == "ARCHIVED"
    assert await services.delete_opportunity(system, opp["id"]) == opp["id"]
    with pytest.raises(NotFound):
        await services.get_opportunity(system, opp["id"])


async def test_manager_converting_keeps_lead_owner(kehu, make_user, make_pipeline):
    await make_pipeline("linear")
    rep = await make_user("sales", team="North")
    manager = await make_user("manager", team="North")
    lead = await services.create_lead(rep.actor, {"name": "Wang", "company": "Hengda"})
    result = await services.convert_lead(manager.actor, lead["id"])
    assert result.customer["owner"] == rep.id
    assert result.opportunity["owner"] == rep.id
