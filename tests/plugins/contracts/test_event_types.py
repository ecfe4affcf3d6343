"""The contracts part of the event catalogue: declarations are well formed, and the
``visible`` rules give each role the events of the contracts it may see, no more."""

from graphql import build_schema

from kehu import Event
from kehu.core.db import count_queries
from kehu.core.event_types import EVENT_NAME
from kehu.core.services.events import receivable
from kehu.plugins.contracts import event_types as et
from kehu.plugins.contracts import services
from kehu.plugins.contracts import services as r
from kehu.plugins.contracts.event_types import CONTRACTS_EVENTS
from kehu.plugins.contracts.plugin import kehu_permissions

from .conftest import cny


def test_declarations_are_well_formed(kehu):
    names = [t.name for t in CONTRACTS_EVENTS]
    assert len(names) == len(set(names))
    assert "contract.drafted_from_opportunity" not in names  # the pipeline bridge's
    permissions = kehu_permissions()
    for t in CONTRACTS_EVENTS:
        assert EVENT_NAME.match(t.name), t.name
        assert t.entity == t.name.partition(".")[0]
        assert t.description.strip(), t.name
        assert t.scope in permissions, t.name
        assert all(meaning.strip() for meaning in t.data_fields().values()), t.name
    kehu.activate()
    assert {n: kehu.event_types.get(n) for n in names} == {t.name: t for t in CONTRACTS_EVENTS}


def test_nodes_are_types_of_the_composed_schema(kehu):
    kehu.activate()
    schema = build_schema(kehu.graphql().schema.as_str())
    nodes = {t.name: t.node for t in CONTRACTS_EVENTS if t.node}
    assert set(nodes.values()) == {"Contract", "Installment", "Invoice", "Payment"}
    for name, node in nodes.items():
        assert node in schema.type_map, name
        assert "Node" in {i.name for i in schema.type_map[node].interfaces}, name


def _event(name: str, entity_id: int | None, data: dict) -> Event:
    return Event(name, name.partition(".")[0], entity_id, None, data)


async def _setup(make_user, make_customer, make_contract, system):
    """North: ``rep`` and ``other`` (sales), ``manager``; South: ``south`` (sales). A
    contract of each rep's customer, and one of rep's customer owned by ``other`` (the
    customer is visible to rep, that contract is not)."""
    users = {
        "rep": await make_user("sales", team="North"),
        "other": await make_user("sales", team="North"),
        "manager": await make_user("manager", team="North"),
        "south": await make_user("sales", team="South"),
        "finance": await make_user("finance"),
        "admin": await make_user("admin"),
    }
    contracts = {}
    for who in ("rep", "other", "south"):
        customer = await make_customer(f"Customer of {who}", owner=users[who])
        contracts[who] = await make_contract(customer, "signed", actor=users[who].actor)
    mine = contracts["rep"]
    contracts["rep_customer_other_owner"] = await make_contract(
        {"id": mine["customer"]}, "signed", owner=users["other"].id
    )
    return users, contracts


def _events_of(contract: dict, installment: dict, invoice: dict) -> list[Event]:
    """One event of each rule-checked kind about ``contract``."""
    cid, customer = contract["id"], contract["customer"]
    child = {"contract": cid, "customer": customer}
    return [
        _event("contract.transitioned", cid, {"status": "signed", "customer": customer}),
        _event("contract.credit_override", cid, {"reason": "ok", "customer": customer}),
        _event("contract.reassigned", cid, {"owner": contract["owner"], "customer": customer}),
        _event("contract_approval.approved", 1, {**child, "step": "manager"}),
        _event("contract_amendment.requested", 1, {**child, "reason": "dates"}),
        _event("contract_milestone.created", 1, {**child, "kind": "delivery"}),
        _event("contract_dispute.opened", 1, {**child, "kind": "quality"}),
        _event("invoice.issued", invoice["id"], invoice),
        _event("credit.credit_note", 1, {**child, "installment": installment["id"]}),
        _event("payment.allocated", 1, {**child, "installment": installment["id"]}),
        _event("installment.dunned", installment["id"], {"step": "reminder", "customer": customer}),
    ]


async def test_visible_rules_follow_contract_visibility(
    kehu, system, make_user, make_customer, make_contract
):
    users, contracts = await _setup(make_user, make_customer, make_contract, system)
    events: dict[str, list[Event]] = {}
    for key, contract in contracts.items():
        installment = (await r.installments_by_contract([contract["id"]]))[contract["id"]][0]
        invoice = await r.issue_invoice(system, contract["id"], installment_id=installment["id"])
        events[key] = _events_of(contract, installment, invoice)
    everything = [e for group in events.values() for e in group]
    kinds = len(events["rep"])

    async def received(who: str) -> dict[str, int]:
        got = {e.id for e in await receivable(users[who].actor, everything)}
        return {key: sum(e.id in got for e in group) for key, group in events.items()}

    none = dict.fromkeys(events, 0)
    # a sales rep: their own contracts only, not another rep's contract of their customer
    assert await received("rep") == {**none, "rep": kinds}
    assert await received("other") == {**none, "other": kinds, "rep_customer_other_owner": 0}
    # other owns the contract but not its customer: contracts need both (contract_scope)
    # a manager: the team's (North), not South's
    assert await received("manager") == {
        **none,
        "rep": kinds,
        "other": kinds,
        "rep_customer_other_owner": kinds,
    }
    # finance and admins: everything
    assert await received("finance") == dict.fromkeys(events, kinds)
    assert await received("admin") == dict.fromkeys(events, kinds)


async def test_customer_events_and_scopes(kehu, system, make_user, make_customer, make_contract):
    users, contracts = await _setup(make_user, make_customer, make_contract, system)
    mine = contracts["rep_customer_other_owner"]  # rep's customer, other's contract
    payment = await r.record_payment(system, mine["customer"], cny("10.00"))
    received = _event("payment.received", payment.payment["id"], payment.payment)
    override = _event("contract.credit_override", mine["id"], {"customer": mine["customer"]})
    viewer = await make_user("viewer", team="North")
    # payments are visible with their customer (default rule), the contract's events are not
    assert [e.id for e in await receivable(users["rep"].actor, [received, override])] == [
        received.id
    ]
    assert await receivable(users["south"].actor, [received]) == []
    # credit data needs credit:read, which a viewer lacks even for a visible contract
    assert await receivable(viewer.actor, [override]) == []
    assert [e.id for e in await receivable(users["manager"].actor, [override])] == [override.id]
    # events without a usable id reach admins only
    broken = _event("contract.transitioned", None, {"customer": mine["customer"]})
    assert await receivable(users["finance"].actor, [broken]) == []
    assert await receivable(users["admin"].actor, [broken]) == [broken]


async def test_rules_are_batched(kehu, system, make_user, make_customer, make_contract):
    manager = await make_user("manager", team="North")
    customer = await make_customer("Acme", owner=manager)
    rows = [await make_contract(customer, "signed") for _ in range(3)]
    events = []
    for row in rows:
        installment = (await r.installments_by_contract([row["id"]]))[row["id"]][0]
        invoice = await r.issue_invoice(system, row["id"], installment_id=installment["id"])
        events += _events_of(row, installment, invoice) * 5
    with count_queries() as log:
        got = await receivable(manager.actor, events)
    assert len(got) == len(events)
    assert log.count <= 3  # one per rule, whatever the number of events


async def test_rules_see_current_contract_visibility(
    kehu, system, make_user, make_customer, make_contract
):
    rep = await make_user("sales", team="North")
    customer = await make_customer("Acme", owner=rep)
    row = await make_contract(customer, "draft", actor=rep.actor)
    event = _event("contract.updated", row["id"], {"customer": row["customer"]})
    assert await et.visible_contract(rep.actor, [event]) == {event.id}
    other = await make_user("sales", team="South")
    await services.update_contract(system, row["id"], row["version"], {"owner": other.id})
    assert await et.visible_contract(rep.actor, [event]) == set()
    assert await et.visible_contract_child(rep.actor, [event]) == set()  # no contract key
    assert await et.visible_installment(rep.actor, []) == set()
