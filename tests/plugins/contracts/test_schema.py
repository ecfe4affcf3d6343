"""What contracts adds to the GraphQL schema is reviewed: a change must update the snapshot.

Refresh after an intended change: ``KEHU_UPDATE_SNAPSHOTS=1 pytest <this file>``.
"""

import os
from pathlib import Path

from graphql import build_schema, print_type

from kehu.core.graphql.base import encode_id
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings
from kehu.plugins.contracts import services as r

from .conftest import cny

SNAPSHOT = Path(__file__).parent / "snapshots" / "contracts.graphql"


def contracts_sdl(full: str, core: str) -> str:
    """The types contracts adds in full plus the fields it adds to core types (core's own
    changes do not touch this snapshot)."""
    schema, base = build_schema(full), build_schema(core)
    parts = [
        print_type(t)
        for name, t in sorted(schema.type_map.items())
        if name not in base.type_map and not name.startswith("__")
    ]
    for owner in ("Customer", "Query", "Mutation"):
        known = set(base.type_map[owner].fields) if owner in base.type_map else set()
        for name, field in schema.type_map[owner].fields.items():
            if name not in known:
                args = ", ".join(f"{a}: {arg.type}" for a, arg in field.args.items())
                parts.append(f"# {owner}.{name}({args}): {field.type}")
    return "\n\n".join(parts) + "\n"


async def test_schema_matches_snapshot(kehu, tmp_path):
    core = Kehu(Settings(database_url=f"sqlite:///{tmp_path}/core.db", plugins=["core"]))
    core_sdl = core.graphql().schema.as_str()
    kehu.activate()
    sdl = contracts_sdl(kehu.graphql().schema.as_str(), core_sdl)
    if os.environ.get("KEHU_UPDATE_SNAPSHOTS") or (
        not SNAPSHOT.exists() and not os.environ.get("CI")
    ):
        SNAPSHOT.write_text(sdl, encoding="utf-8")
    assert sdl == SNAPSHOT.read_text(encoding="utf-8"), (
        "The contracts schema changed; review and refresh with KEHU_UPDATE_SNAPSHOTS=1"
    )


async def test_nodes_invoices_and_payments(
    kehu, system, make_user, gql, make_customer, make_contract
):
    finance = await make_user("finance")
    rep = await make_user("sales")
    acme = await make_customer()
    row = await make_contract(acme, "signed")
    first = (await r.installments_by_contract([row["id"]]))[row["id"]][0]
    invoice = await r.issue_invoice(system, row["id"], installment_id=first["id"])
    pay = await r.record_payment(
        system, acme["id"], cny("10"), allocations=[(first["id"], cny("10"))]
    )
    query = """query($i: ID!, $p: ID!, $s: ID!, $c: ID!, $cu: ID!) {
      i: node(id: $i) { ... on Invoice { number amount { amount } } }
      p: node(id: $p) { ... on Payment { amount { amount } allocations { amount { amount } } } }
      s: node(id: $s) { ... on Installment { paid { amount } contract { number } } }
      c: contract(id: $c) { invoices { number } }
      payments(customerId: $cu) { reference } }"""
    ids = {
        "i": encode_id("Invoice", invoice["id"]),
        "p": encode_id("Payment", pay.payment["id"]),
        "s": encode_id("Installment", first["id"]),
        "c": encode_id("Contract", row["id"]),
        "cu": encode_id("Customer", acme["id"]),
    }
    body = await gql(query, ids, user=finance)
    data = body["data"]
    assert data["i"] == {"number": invoice["number"], "amount": {"amount": "300.00"}}
    assert data["p"] == {
        "amount": {"amount": "10.00"},
        "allocations": [{"amount": {"amount": "10.00"}}],
    }
    assert data["s"] == {"paid": {"amount": "10.00"}, "contract": {"number": row["number"]}}
    assert data["c"]["invoices"] == [{"number": invoice["number"]}]
    assert len(data["payments"]) == 1
    body = await gql(query, ids, user=rep, expect_errors=True)  # not visible to another rep
    assert body["data"] is None or body["data"]["i"] is None
