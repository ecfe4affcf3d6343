"""The SDK's boilerplate savers: ``mutation`` derives payloads, ``RowType`` derives
``from_row``, ``update_versioned`` is an optimistic-locked change with audit in one call,
``plugin_app`` declares a Piccolo app."""

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
import strawberry
from piccolo.columns import Array, Integer, Numeric, Varchar
from piccolo.table import Table
from strawberry.scalars import JSON

from kehu.core.money import Money
from kehu.core.services import customers
from kehu.core.tables import ActivityKind, AuditLog, Contact
from kehu.sdk import (
    Conflict,
    CustomerRef,
    FieldError,
    MoneyType,
    Node,
    NotFound,
    PluginError,
    RowType,
    ValidationFailed,
    encode_id,
    gql_enum,
    mutation,
    plugin_app,
    stale,
    update_versioned,
)


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core"]


# -- mutation -------------------------------------------------------------------------------------


@strawberry.type
class Gadget:
    name: str


@strawberry.input
class GadgetInput:
    name: str


@strawberry.type
class GadgetMutations:
    @mutation(description="Make a gadget.")
    async def make_gadget(self, info: strawberry.Info, input: GadgetInput) -> Gadget:
        if not input.name.strip():
            raise ValidationFailed(FieldError("name", "name is required", "REQUIRED"))
        if input.name == "gone":
            raise NotFound("Gadget gone not found")
        return Gadget(name=input.name)

    @mutation
    async def rename_gadget(self, info: strawberry.Info, input: GadgetInput) -> Gadget:
        return Gadget(name=input.name.upper())

    @mutation(payload="DropGadgetPayload", field="dropped_id")
    async def drop_gadget(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        return id


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> str:
        return "pong"


SCHEMA = strawberry.Schema(query=Query, mutation=GadgetMutations)


def test_mutation_derives_one_payload_per_result_type():
    sdl = SCHEMA.as_str()
    assert "makeGadget(input: GadgetInput!): GadgetPayload!" in sdl
    assert "renameGadget(input: GadgetInput!): GadgetPayload!" in sdl
    assert "type GadgetPayload {\n  gadget: Gadget\n  errors: [UserError!]!\n}" in sdl
    assert "type DropGadgetPayload {\n  droppedId: ID\n  errors: [UserError!]!\n}" in sdl
    assert '"""Make a gadget."""' in sdl


def test_mutation_turns_validation_into_errors_and_keeps_coded_errors():
    query = """mutation { ok: makeGadget(input: {name: "x"}) { gadget { name } errors { code } }
      bad: makeGadget(input: {name: " "}) { gadget { name } errors { field message code } }
      drop: dropGadget(id: "7") { droppedId errors { code } } }"""
    result = asyncio.run(SCHEMA.execute(query))
    assert result.errors is None
    assert result.data == {
        "ok": {"gadget": {"name": "x"}, "errors": []},
        "bad": {
            "gadget": None,
            "errors": [{"field": "name", "message": "name is required", "code": "REQUIRED"}],
        },
        "drop": {"droppedId": "7", "errors": []},
    }
    gone = asyncio.run(
        SCHEMA.execute('mutation { makeGadget(input: {name: "gone"}) { gadget { name } } }')
    )
    assert gone.errors[0].extensions["code"] == "NOT_FOUND"


def test_one_payload_name_with_two_fields_is_a_clear_error():
    with pytest.raises(PluginError, match="DropGadgetPayload is declared with field"):

        @strawberry.type
        class Clash:
            @mutation(payload="DropGadgetPayload", field="other")
            async def other(self, info: strawberry.Info) -> strawberry.ID:
                return strawberry.ID("1")


def test_a_mutation_may_return_a_lazy_reference():
    """``CustomerRef`` (``Annotated["Customer", strawberry.lazy(...)]``) names the payload."""

    @strawberry.type
    class Lazy:
        @mutation
        async def touch_customer(self, info: strawberry.Info) -> CustomerRef:
            raise NotImplementedError

    field = Lazy.__strawberry_definition__.fields[0]
    payload = field.type.__strawberry_definition__
    assert (payload.name, [f.python_name for f in payload.fields]) == (
        "CustomerPayload",
        ["customer", "errors"],
    )


# -- RowType ---------------------------------------------------------------------------

KindEnum = gql_enum(ActivityKind, "RowTestKind")


@strawberry.type
class Entry(RowType, Node):
    pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int | None]
    database_id: int
    kind: KindEnum
    points: int
    total: MoneyType | None
    meta: JSON
    created_at: dt.datetime
    note: str = ""


def test_from_row_is_derived_from_the_fields():
    at = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    row = {
        "id": 7,
        "owner": 3,
        "kind": "visit",
        "points": 5,
        "total_minor": 12345,
        "currency": "CNY",
        "meta": json.dumps({"a": 1}),
        "created_at": at,
    }
    entry = Entry.from_row(row)
    assert entry.id == encode_id("Entry", 7) and entry.pk == 7 and entry.database_id == 7
    assert entry.owner_pk == 3 and entry.points == 5 and entry.created_at == at
    assert entry.kind == KindEnum("visit")
    assert entry.total == MoneyType.of(Money(12345, "CNY"))
    assert entry.meta == {"a": 1} and entry.note == ""
    assert Entry.from_row({**row, "total_minor": None, "note": "n"}).total is None
    with pytest.raises(KeyError):
        Entry.from_row({k: v for k, v in row.items() if k != "points"})


def test_a_field_without_a_column_stops_start_up_naming_the_plugin():
    @strawberry.type
    class Wrong(RowType):
        __table__ = Contact
        pk: strawberry.Private[int]
        name: str
        shoe_size: int

    with pytest.raises(PluginError, match=r"'shop': Wrong\.shoe_size needs column 'shoe_size'"):
        Wrong.check_table("shop")

    @strawberry.type
    class Right(RowType):
        __table__ = Contact
        pk: strawberry.Private[int]
        customer_pk: strawberry.Private[int]
        name: str
        email: str

    Right.check_table("shop")


class Shoe(Table, tablename="shop_shoe"):
    sizes = Array(base_column=Integer())
    price_minor = Numeric(digits=(12, 2))
    label = Varchar()
    stock = Integer()


@pytest.mark.parametrize(
    ("field", "annotation", "column"),
    [
        ("sizes", list[int], "Array"),  # no array columns
        ("price", MoneyType, "Numeric"),  # money is integer minor units, never a fraction
        ("label", int, "Varchar"),
        ("stock", dt.date, "Integer"),
    ],
)
def test_a_field_of_a_type_its_column_cannot_hold_stops_start_up_in_one_line(
    field, annotation, column
):
    cls = strawberry.type(
        type("Odd", (RowType,), {"__table__": Shoe, "__annotations__": {field: annotation}})
    )
    with pytest.raises(PluginError) as info:
        cls.check_table("shop")
    message = info.value.message
    assert message.startswith(f"Plugin 'shop': Odd.{field} cannot be derived from shop_shoe.")
    assert f"a {column} column" in message and "\n" not in message


# -- update_versioned ---------------------------------------------------------------------------


async def test_update_versioned_is_one_call(kehu, system):
    customer = await customers.create_customer(system, {"name": "Versioned Co"})
    from kehu.core.services import contacts

    contact = await contacts.create_contact(system, customer["id"], {"name": "Wu"})
    after = await update_versioned(
        system, Contact, contact["id"], 1, {"title": "CFO"}, entity="contact"
    )
    assert (after["title"], after["version"]) == ("CFO", 2)
    audit = await AuditLog.select().order_by(AuditLog.id, ascending=False).first()
    assert (audit["action"], audit["entity"], audit["entity_id"], audit["customer"]) == (
        "updated",
        "contact",
        contact["id"],
        customer["id"],
    )
    changed = json.loads(audit["after"]) if isinstance(audit["after"], str) else audit["after"]
    assert changed["title"] == "CFO" and changed["version"] == 2
    with pytest.raises(
        Conflict,
        match=r"Contact \d+ was changed by someone else \(expected "
        r"version 1\); reload and retry",
    ):
        await update_versioned(
            system, Contact, contact["id"], 1, {"title": "CEO"}, entity="contact"
        )
    with pytest.raises(NotFound):
        await update_versioned(system, Contact, 10**6, None, {"title": "x"}, entity="contact")
    assert str(stale("commission_plan", 3)) == (
        "Commission plan 3 was changed by someone else; reload and retry"
    )


def test_plugin_app_declares_the_app(tmp_path: Path):
    config = plugin_app(
        "shop",
        [Contact],
        str(tmp_path / "piccolo_app.py"),
        depends=["kehu.plugins.pipeline.piccolo_app"],
    )
    assert config.app_name == "shop"
    assert config.migrations_folder_path == str(tmp_path / "piccolo_migrations")
    assert config.table_classes == [Contact]
    assert config.migration_dependencies == [
        "kehu.core.piccolo_app",
        "kehu.plugins.pipeline.piccolo_app",
    ]
