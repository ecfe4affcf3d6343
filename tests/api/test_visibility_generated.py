"""Generated from the schema: every root field that takes an ID (as an argument or in its
input), called by each limited role with the id of a record that role may not see, answers
NOT_FOUND (or FORBIDDEN, or a typed input error), shows nothing of the record and changes
nothing. New fields and plugins are covered without touching this file.

The records come from the demo data set (two teams, every plugin); which ones a role may not
see is what ``node(id:)`` says for it while an admin resolves them.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
    get_nullable_type,
)

from kehu.core.demo import load_demo
from kehu.core.graphql.base import encode_id
from kehu.core.permissions import system_actor
from kehu.core.services import users
from kehu.core.tables import AuditLog, EventRecord

ROLES = ("zhangwei", "zhaolei", "guest", "lihua")  # sales, support, viewer, manager (North)
SAFE = {"NOT_FOUND", "FORBIDDEN", "VALIDATION", "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}
MAX_PK = 40
DUMMY_SCALARS = {
    "String": '"x"',
    "Int": "1",
    "Float": "1.0",
    "Boolean": "false",
    "Decimal": '"1"',
    "Date": '"2026-06-01"',
    "DateTime": '"2026-06-01T00:00:00+00:00"',
    "JSON": "{}",
}


@pytest.fixture
def kehu_plugins() -> None:
    return None  # every built-in plugin


OWNERS = {"owner": "User", "user": "User", "assignee": "User", "agent": "User", "team": "Team"}


def _required(spec: Any) -> bool:
    return isinstance(spec.type, GraphQLNonNull) and spec.default_value is Undefined


def _is_id(spec: Any) -> bool:
    return get_named_type(spec.type).name == "ID"


def _slot_type(slot: str, field_name: str, node_types: list[str]) -> str | None:
    """The node type an ID argument names: ``customerId`` -> Customer, ``ownerId`` -> User,
    ``id`` -> the type in the field's name (``updateContract`` -> Contract)."""
    base = slot.removesuffix("Ids").removesuffix("Id")
    if base in OWNERS:
        return OWNERS[base]
    wanted = (base if slot not in ("id", "ids") else field_name).lower()
    matches = [t for t in node_types if t.lower() in wanted or wanted.endswith(t.lower())]
    return max(matches, key=len) if matches else None


@dataclass
class Ids:
    hidden: dict[str, str]  # node type -> an id of that type the role may not see
    visible: dict[str, str]  # node type -> an id of that type the role sees


@dataclass
class Probe:
    """One call: the field, where the hidden id goes and of which type it is."""

    field_name: str
    target: str  # argument path, e.g. "input.customerId"
    target_type: str
    node_types: list[str]
    ids: Ids


def _value(kind: Any, name: str, slot: str, probe: Probe) -> str | None:
    """A literal for ``kind``: the hidden id at the target slot, a visible id of the right
    type in other required ID slots, dummy values for other required fields."""
    nullable = get_nullable_type(kind)
    if isinstance(nullable, GraphQLList):
        inner = _value(nullable.of_type, name, slot, probe)
        return None if inner is None else f"[{inner}]"
    if isinstance(nullable, GraphQLScalarType):
        if nullable.name != "ID":
            return DUMMY_SCALARS.get(nullable.name)
        if slot == probe.target:
            return f'"{probe.ids.hidden[probe.target_type]}"'
        own = probe.ids.visible.get(_slot_type(name, probe.field_name, probe.node_types) or "")
        return f'"{own}"' if own else None
    if isinstance(nullable, GraphQLEnumType):
        return next(iter(nullable.values))
    if isinstance(nullable, GraphQLInputObjectType):
        parts = []
        for sub, spec in nullable.fields.items():
            path = f"{slot}.{sub}"
            if _required(spec) or path == probe.target:
                value = _value(spec.type, sub, path, probe)
                if value is None:
                    return None
                parts.append(f"{sub}: {value}")
        return "{" + ", ".join(parts) + "}"
    return None


def _slots(field: Any) -> list[tuple[str, str]]:
    """``(path, name)`` of every ID argument and ID field of an input argument."""
    out = []
    for arg_name, arg in field.args.items():
        named = get_named_type(arg.type)
        if named.name == "ID":
            out.append((arg_name, arg_name))
        elif isinstance(named, GraphQLInputObjectType):
            out += [(f"{arg_name}.{n}", n) for n, f in named.fields.items() if _is_id(f)]
    return out


def _selection(kind: Any) -> str:
    named = get_named_type(kind)
    if isinstance(named, GraphQLObjectType):
        fields = named.fields
        if "totalCount" in fields:
            nodes = fields.get("nodes")
            has_id = nodes is not None and "id" in get_named_type(nodes.type).fields
            return "{ __typename totalCount" + (" nodes { id } }" if has_id else " }")
        if "errors" in fields:
            return "{ __typename errors { code } }"
        return "{ __typename }"
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    return "{ __typename }"


def _call(root: str, field: Any, probe: Probe) -> str | None:
    name, target, args = probe.field_name, probe.target, []
    for arg_name, arg in field.args.items():
        if _required(arg) or target == arg_name or target.startswith(arg_name + "."):
            value = _value(arg.type, arg_name, arg_name, probe)
            if value is None:
                return None
            args.append(f"{arg_name}: {value}")
    call = f"{name}({', '.join(args)})" if args else name
    operation = "mutation" if root == "Mutation" else "query"
    return f"{operation} {{ {call} {_selection(field.type)} }}"


def _empty(value: Any) -> bool:
    """Nothing of a record: null, an empty list, a zero count, a payload that failed."""
    if value is None or value == []:
        return True
    if isinstance(value, dict):
        if "totalCount" in value:
            return value["totalCount"] == 0
        if "errors" in value:
            return bool(value["errors"])
    return False


async def _ids(gql: Any, admin: str, user: str, node_types: list[str]) -> Ids:
    """Per node type, an id that exists (the admin resolves it) and ``user`` may not see, and
    one ``user`` sees."""
    candidates = [encode_id(t, pk) for t in node_types for pk in range(1, MAX_PK + 1)]
    ids = Ids({}, {})
    for start in range(0, len(candidates), 25):
        batch = candidates[start : start + 25]
        query = (
            "{ " + " ".join(f'n{i}: node(id: "{g}") {{ id }}' for i, g in enumerate(batch)) + " }"
        )
        seen_by_admin = (await gql(query, key=admin, expect_errors=True))["data"] or {}
        seen_by_user = (await gql(query, key=user, expect_errors=True))["data"] or {}
        for i, g in enumerate(batch):
            if seen_by_admin.get(f"n{i}"):
                found = ids.visible if seen_by_user.get(f"n{i}") else ids.hidden
                found.setdefault(_type_of(g), g)
    return ids


async def _all_visible(gql: Any, user: str, global_ids: list[str]) -> bool:
    query = (
        "{ "
        + " ".join(f'n{i}: node(id: "{g}") {{ id }}' for i, g in enumerate(global_ids[:25]))
        + " }"
    )
    seen = (await gql(query, key=user, expect_errors=True))["data"] or {}
    return all(seen.get(f"n{i}") for i in range(len(global_ids[:25])))


def _type_of(global_id: str) -> str:
    import base64

    padded = global_id + "=" * (-len(global_id) % 4)
    return base64.urlsafe_b64decode(padded).decode().partition(":")[0]


async def test_no_role_reaches_a_record_it_may_not_see_through_any_id_field(kehu, gql):
    system = system_actor()
    await load_demo(kehu, system)
    schema = kehu.graphql().schema._schema
    node_types = sorted(kehu.graphql().node_types)
    _, admin = await users.create_api_key(system, "admin", "generated visibility test")

    fields = [
        (root, name, field)
        for root in ("Query", "Mutation")
        for name, field in schema.get_type(root).fields.items()
        if _slots(field) and name != "node"
    ]
    assert len(fields) > 60  # the whole surface, not a handful
    leaks: list[str] = []
    answers: Counter[str] = Counter()
    probed: set[str] = set()
    for username in ROLES:
        _, user = await users.create_api_key(system, username, "generated visibility test")
        ids = await _ids(gql, admin, user, node_types)
        assert ids.hidden, username
        before = (await AuditLog.count(), await EventRecord.count())
        for root, name, field in fields:
            for path, slot in _slots(field):
                known = _slot_type(slot, name, node_types)
                for kind in [known] if known else list(ids.hidden):
                    if kind not in ids.hidden:
                        continue
                    query = _call(root, field, Probe(name, path, kind, node_types, ids))
                    if query is None:
                        continue
                    body = await gql(query, key=user, expect_errors=True)
                    errors = body.get("errors") or []
                    codes = {e.get("extensions", {}).get("code") for e in errors}
                    data = (body.get("data") or {}).get(name)
                    answers.update(codes or {"payload error" if _empty(data) else "data"})
                    probed.add(name)
                    # a list filtered by the hidden id may hold records the role sees (a
                    # ticket routed to their team): then each must be one it may see
                    nodes = data.get("nodes") if isinstance(data, dict) and not codes else None
                    if nodes and await _all_visible(gql, user, [n["id"] for n in nodes]):
                        continue
                    if codes - SAFE or (not codes and not _empty(data)):
                        leaks.append(f"{username} {name}({path}={kind}): {codes or data}")
        after = (await AuditLog.count(), await EventRecord.count())
        assert after == before, f"{username}: something was written ({before} -> {after})"
    assert not leaks, "\n".join(leaks)
    # every field whose ID names a kind of record the roles cannot all see was probed
    # (users, teams, pipelines and the like are visible to everyone: nothing to hide there)
    assert len(probed) >= 60, sorted({n for _, n, _ in fields} - probed)
    assert answers["NOT_FOUND"] > 100  # the records were really looked for, and not found
