"""CSV import of customers and contacts (export: ``kehu.core.services.exports``).

Import maps headers to fields, validates every row, removes duplicates (against the database
and within the file) and writes chunk by chunk: a chunk is one transaction and is written only
if all of its rows are valid (all-or-nothing per chunk)."""

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kehu.core.db import StatisticsRefresher, bulk_insert
from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import Event, emit, to_jsonable, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services import contacts as contact_service
from kehu.core.services import customers as customer_service
from kehu.core.services.customers import customer_scope
from kehu.core.spreadsheet import plain_cell
from kehu.core.tables import AuditLog, Contact, Customer, CustomerTag, Team, User

CUSTOMER_ALIASES = {
    "name": ["name", "customer", "company", "客户名称", "名称", "公司"],
    "kind": ["kind", "type", "类型"],
    "industry": ["industry", "行业"],
    "region": ["region", "area", "地区", "区域"],
    "size": ["size", "规模"],
    "source": ["source", "channel", "来源", "渠道"],
    "tier": ["tier", "level", "等级", "分级"],
    "lifecycle_stage": ["lifecycle_stage", "lifecycle", "stage", "阶段"],
    "email": ["email", "e-mail", "mail", "邮箱"],
    "phone": ["phone", "mobile", "tel", "电话", "手机"],
    "tax_id": ["tax_id", "vat", "税号"],
    "website": ["website", "url", "网站"],
    "address": ["address", "地址"],
    "credit_rating": ["credit_rating", "credit", "信用等级"],
    "marketing_consent": ["marketing_consent", "consent"],
    "owner": ["owner", "account_manager", "负责人", "客户经理"],
    "team": ["team", "团队"],
    "tags": ["tags", "标签"],
    "birthday": ["birthday", "生日"],
    "anniversary": ["anniversary", "纪念日"],
    "custom_fields": ["custom_fields"],
}
CONTACT_ALIASES = {
    "customer": ["customer", "company", "customer_name", "客户", "客户名称"],
    "customer_id": ["customer_id"],
    "name": ["name", "contact", "contact_name", "姓名", "联系人"],
    "title": ["title", "position", "职位"],
    "buying_role": ["buying_role", "role", "角色"],
    "email": ["email", "e-mail", "邮箱"],
    "phone": ["phone", "mobile", "电话", "手机"],
    "is_primary": ["is_primary", "primary"],
    "notes": ["notes", "备注"],
}
TRUE = {"1", "true", "yes", "y", "是"}


@dataclass
class RowError:
    line: int
    field: str | None
    message: str
    code: str


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)
    skipped_rows: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def resolve_headers(
    headers: list[str], aliases: dict[str, list[str]], mapping: dict[str, str] | None
) -> dict[str, str]:
    """``{csv header: field}`` from explicit ``mapping`` plus known aliases; an explicit
    mapping to an unknown field is an error."""
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping.values()) - set(aliases))
    if unknown:
        raise ValidationFailed(
            f"Unknown target field(s) {', '.join(unknown)}; known: {', '.join(aliases)}",
            field="map",
        )
    missing = sorted(set(mapping) - set(headers))
    if missing:
        raise ValidationFailed(f"Mapped header(s) not in file: {', '.join(missing)}", field="map")
    resolved: dict[str, str] = {}
    for header in headers:
        if header in mapping:
            resolved[header] = mapping[header]
            continue
        key = header.strip().lower().replace(" ", "_")
        for target, names in aliases.items():
            if key in names and target not in resolved.values():
                resolved[header] = target
                break
    return resolved


def read_csv(
    stream: Iterable[str],
) -> tuple[list[str], Iterator[tuple[int, dict[str, str] | str]]]:
    """Headers and ``(line, row)`` pairs; a malformed row comes back as an error string."""
    reader = csv.reader(stream)
    try:
        headers = next(reader)
    except StopIteration:
        raise ValidationFailed("The CSV file is empty", field="file") from None
    except csv.Error as exc:
        raise ValidationFailed(f"Unreadable CSV header: {exc}", field="file") from None

    def rows() -> Iterator[tuple[int, dict[str, str] | str]]:
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, f"unreadable row: {exc}"
                continue
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(headers):
                yield (
                    reader.line_num,
                    (f"malformed row: {len(values)} columns, header has {len(headers)}"),
                )
                continue
            yield reader.line_num, dict(zip(headers, map(plain_cell, values), strict=True))

    return headers, rows()


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Lookups:
    """Users by username and teams by name, loaded once."""

    def __init__(self, users: list[dict], teams: list[dict]) -> None:
        self.users = {u["username"]: u for u in users}
        self.teams = {t["name"]: t["id"] for t in teams}

    @classmethod
    async def load(cls) -> "_Lookups":
        return cls(
            await User.select(User.id, User.username, User.team, User.active),
            await Team.select(Team.id, Team.name),
        )


def _customer_values(
    raw: dict[str, str], lookups: _Lookups, actor: Actor, errors: list[FieldError]
) -> tuple[dict[str, Any], list[str]]:
    data: dict[str, Any] = {
        k: v for k, v in raw.items() if k not in {"owner", "team", "tags"} and v != ""
    }
    data.setdefault("name", raw.get("name", ""))
    if "marketing_consent" in data:
        data["marketing_consent"] = data["marketing_consent"].strip().lower() in TRUE
    if "custom_fields" in data:
        try:
            data["custom_fields"] = json.loads(data["custom_fields"])
        except ValueError:
            errors.append(
                FieldError("custom_fields", "custom_fields must be a JSON object", "INVALID")
            )
            del data["custom_fields"]
    try:
        values = customer_service.clean_customer(data, partial=False)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        values = {}
    owner_name = (raw.get("owner") or "").strip()
    if owner_name:
        user = lookups.users.get(owner_name)
        if user is None or not user["active"]:
            errors.append(
                FieldError("owner", f"Unknown or inactive user {owner_name!r}", "NOT_FOUND")
            )
        else:
            values["owner"], values["team"] = user["id"], user["team"]
    elif not actor.is_system:
        values["owner"], values["team"] = actor.user_id, actor.team_id
    team_name = (raw.get("team") or "").strip()
    if team_name:
        if team_name not in lookups.teams:
            errors.append(FieldError("team", f"Unknown team {team_name!r}", "NOT_FOUND"))
        else:
            values["team"] = lookups.teams[team_name]
    tags = [t for t in (raw.get("tags") or "").replace(",", ";").split(";") if t.strip()]
    return values, tags


_DEDUP_KEYS = ("name_key", "email", "phone", "tax_id")


async def _existing(values: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Existing active customers matching any dedup key of ``values``: ``{(key, v): id}``."""
    found: dict[tuple[str, str], int] = {}
    for key in _DEDUP_KEYS:
        wanted = sorted({v[key] for v in values if v.get(key)})
        if not wanted:
            continue
        column = getattr(Customer, key)
        rows = await Customer.select(Customer.id, column).where(
            column.is_in(wanted), Customer.archived_at.is_null()
        )
        for row in rows:
            found.setdefault((key, row[key]), row["id"])
    return found


def _audit_rows(actor: Actor, entity: str, rows: list[dict[str, Any]]) -> list[dict]:
    return [
        {
            "actor": actor.user_id,
            "actor_name": actor.username,
            "action": "created",
            "entity": entity,
            "entity_id": r["id"],
            "customer": r["id"] if entity == "customer" else r.get("customer"),
            "after": to_jsonable(r),
        }
        for r in rows
    ]


async def import_customers(
    actor: Actor,
    stream: Iterable[str],
    *,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    chunk_size: int = 500,
    on_duplicate: str = "skip",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import customers from CSV. ``on_duplicate``: ``skip`` (report and skip), ``update``
    (fill the matched customer's given fields) or ``error``."""
    actor.require("customer:import")
    if on_duplicate not in {"skip", "update", "error"}:
        raise ValidationFailed("on_duplicate must be skip, update or error", field="onDuplicate")
    headers, rows = read_csv(stream)
    columns = resolve_headers(headers, CUSTOMER_ALIASES, mapping)
    if "name" not in columns.values():
        raise ValidationFailed(
            "No column maps to the customer name (use --map 'Header=name')", field="map"
        )
    lookups = await _Lookups.load()
    report = ImportReport(dry_run=dry_run)
    seen: dict[tuple[str, str], int] = {}
    statistics = StatisticsRefresher(Customer)
    for chunk in _chunks(rows, chunk_size):
        await _import_customer_chunk(
            actor, chunk, columns, lookups, report, seen, dry_run, on_duplicate
        )
        await statistics.after(report.created)
        if progress:
            progress(len(chunk))
    return report


async def _import_customer_chunk(
    actor: Actor,
    chunk: list[tuple[int, Any]],
    columns: dict[str, str],
    lookups: _Lookups,
    report: ImportReport,
    seen: dict[tuple[str, str], int],
    dry_run: bool,
    on_duplicate: str,
) -> None:
    report.total += len(chunk)
    parsed: list[tuple[int, dict[str, Any], list[str]]] = []
    chunk_errors: list[RowError] = []
    for line, raw in chunk:
        if isinstance(raw, str):
            chunk_errors.append(RowError(line, None, raw, "MALFORMED_ROW"))
            continue
        mapped = {columns[h]: v.strip() for h, v in raw.items() if h in columns}
        errors: list[FieldError] = []
        values, tags = _customer_values(mapped, lookups, actor, errors)
        if values.get("owner") not in (None, actor.user_id) and not actor.can("customer:reassign"):
            errors.append(FieldError("owner", "You may only import customers you own", "FORBIDDEN"))
        chunk_errors += [RowError(line, e.field, e.message, e.code) for e in errors]
        parsed.append((line, values, tags))
    existing = await _existing([v for _, v, _ in parsed])
    creates: list[tuple[int, dict[str, Any], list[str]]] = []
    updates: list[tuple[int, int, dict[str, Any]]] = []
    skipped: list[RowError] = []
    pending: dict[tuple[str, str], int] = {}  # dedup keys of this chunk, kept if it is written
    for line, values, tags in parsed:
        keys = [(k, values[k]) for k in _DEDUP_KEYS if values.get(k)]
        match = next((existing[k] for k in keys if k in existing), None)
        in_file = next(
            (seen.get(k) or pending.get(k) for k in keys if k in seen or k in pending), None
        )
        if in_file is not None:
            skipped.append(
                RowError(line, None, f"duplicate of line {in_file} in this file", "DUPLICATE")
            )
        elif match is not None and on_duplicate == "error":
            chunk_errors.append(RowError(line, None, f"duplicate of customer {match}", "DUPLICATE"))
        elif match is not None and on_duplicate == "skip":
            skipped.append(RowError(line, None, f"duplicate of customer {match}", "DUPLICATE"))
        elif match is not None:
            updates.append((line, match, values))
        else:
            creates.append((line, values, tags))
        for k in keys:
            pending.setdefault(k, line)
    if chunk_errors:
        report.errors += chunk_errors
        report.rejected += len(chunk) - len({e.line for e in chunk_errors})
        return
    for k, line in pending.items():
        seen.setdefault(k, line)
    report.skipped += len(skipped)
    report.skipped_rows += skipped
    if dry_run:
        report.created += len(creates)
        report.updated += len(updates)
        return
    async with unit_of_work():
        if creates:
            inserted = await bulk_insert(
                Customer, [v for _, v, _ in creates], returning=("id", "name")
            )
            tag_rows = [
                {"customer": row["id"], "tag": t}
                for row, (_, _, tags) in zip(inserted, creates, strict=True)
                for t in customer_service._clean_tags(tags)
            ]
            await bulk_insert(CustomerTag, tag_rows)
            await bulk_insert(
                AuditLog,
                _audit_rows(
                    actor,
                    "customer",
                    [
                        {**values, "id": row["id"], "tags": tags}
                        for row, (_, values, tags) in zip(inserted, creates, strict=True)
                    ],
                ),
            )
            for row in inserted:
                emit(
                    Event(
                        "customer.created",
                        "customer",
                        row["id"],
                        actor.user_id,
                        {"name": row["name"], "source": "import"},
                    )
                )
        for _, customer_id, values in updates:
            await customer_service.update_customer(
                actor,
                customer_id,
                None,
                {k: v for k, v in values.items() if k != "name_key" and v not in ("", None)},
            )
    report.created += len(creates)
    report.updated += len(updates)


async def import_contacts(
    actor: Actor,
    stream: Iterable[str],
    *,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    chunk_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import contacts; each row names its customer (``customer_id`` or the customer's name).
    A contact already on the customer with the same e-mail, phone or name is skipped."""
    actor.require("customer:import")
    headers, rows = read_csv(stream)
    columns = resolve_headers(headers, CONTACT_ALIASES, mapping)
    if "name" not in columns.values() or not {"customer", "customer_id"} & set(columns.values()):
        raise ValidationFailed(
            "Contacts need a name column and a customer or customer_id column (use --map)",
            field="map",
        )
    report = ImportReport(dry_run=dry_run)
    statistics = StatisticsRefresher(Contact)
    for chunk in _chunks(rows, chunk_size):
        await _import_contact_chunk(actor, chunk, columns, report, dry_run)
        await statistics.after(report.created)
        if progress:
            progress(len(chunk))
    return report


async def _customer_ids_for(actor: Actor, names: set[str], ids: set[int]) -> dict[str, int]:
    from kehu.core.validation import name_key

    spellings: dict[str, list[str]] = {}
    for n in names:
        spellings.setdefault(name_key(n), []).append(n)
    query = Customer.select(Customer.id, Customer.name_key).where(Customer.archived_at.is_null())
    scope = customer_scope(actor)
    if scope is not None:
        query = query.where(scope)
    found: dict[str, int] = {}
    if spellings:
        for row in await query.where(Customer.name_key.is_in(list(spellings))).order_by(
            Customer.id
        ):
            for spelling in spellings[row["name_key"]]:
                found.setdefault(spelling, row["id"])
    if ids:
        visible = await customer_service.visible_customer_ids(actor, list(ids))
        found.update({str(i): i for i in visible})
    return found


async def _import_contact_chunk(
    actor: Actor,
    chunk: list[tuple[int, Any]],
    columns: dict[str, str],
    report: ImportReport,
    dry_run: bool,
) -> None:
    report.total += len(chunk)
    mapped_rows: list[tuple[int, dict[str, str]]] = []
    chunk_errors: list[RowError] = []
    for line, raw in chunk:
        if isinstance(raw, str):
            chunk_errors.append(RowError(line, None, raw, "MALFORMED_ROW"))
        else:
            mapped_rows.append(
                (line, {columns[h]: v.strip() for h, v in raw.items() if h in columns})
            )
    names = {m["customer"] for _, m in mapped_rows if m.get("customer")}
    ids = {int(m["customer_id"]) for _, m in mapped_rows if m.get("customer_id", "").isdigit()}
    customers = await _customer_ids_for(actor, names, ids)
    existing = await contact_service.contacts_by_customer(sorted(set(customers.values())))
    creates: list[dict[str, Any]] = []
    for line, m in mapped_rows:
        ref = m.get("customer_id") or m.get("customer") or ""
        customer_id = customers.get(ref)
        if customer_id is None:
            chunk_errors.append(
                RowError(line, "customer", f"Customer {ref!r} not found", "NOT_FOUND")
            )
            continue
        data: dict[str, Any] = {
            k: v for k, v in m.items() if k not in {"customer", "customer_id"} and v
        }
        data.setdefault("name", "")
        if "is_primary" in data:
            data["is_primary"] = data["is_primary"].lower() in TRUE
        try:
            values = contact_service.clean_contact(data, partial=False)
        except ValidationFailed as exc:
            chunk_errors += [RowError(line, e.field, e.message, e.code) for e in exc.errors]
            continue
        same = [
            c
            for c in existing.get(customer_id, [])
            + [{**v, "id": 0} for v in creates if v["customer"] == customer_id]
            if (values.get("email") and c["email"] == values["email"])
            or (values.get("phone") and c["phone"] == values["phone"])
            or c["name"] == values["name"]
        ]
        if same:
            report.skipped += 1
            report.skipped_rows.append(RowError(line, None, "contact already exists", "DUPLICATE"))
            continue
        creates.append({**values, "customer": customer_id})
    if chunk_errors:
        report.errors += chunk_errors
        report.rejected += len(chunk) - len({e.line for e in chunk_errors})
        return
    if not dry_run and creates:
        async with unit_of_work():
            inserted = await bulk_insert(Contact, creates, returning=("id", "customer"))
            await bulk_insert(
                AuditLog,
                _audit_rows(
                    actor,
                    "contact",
                    [{**c, "id": row["id"]} for row, c in zip(inserted, creates, strict=True)],
                ),
            )
            for row in inserted:
                emit(
                    Event(
                        "contact.created",
                        "contact",
                        row["id"],
                        actor.user_id,
                        {"customer": row["customer"], "source": "import"},
                    )
                )
    report.created += len(creates)
