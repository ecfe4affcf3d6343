"""Exporting customers and contacts: visible rows streamed in id order, written as CSV or JSON
lines (``kehu export``)."""

import json
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any, TextIO

from kehu.core.permissions import Actor
from kehu.core.services.customers import customer_scope
from kehu.core.spreadsheet import BOM, SafeWriter
from kehu.core.tables import Contact, Customer, CustomerTag, Team, User

EXPORT_COLUMNS = [
    "id",
    "name",
    "kind",
    "industry",
    "region",
    "size",
    "source",
    "tier",
    "lifecycle_stage",
    "email",
    "phone",
    "tax_id",
    "website",
    "address",
    "credit_rating",
    "marketing_consent",
    "birthday",
    "anniversary",
    "owner",
    "team",
    "tags",
    "archived",
    "created_at",
    "updated_at",
    "custom_fields",
]


async def _tags_between(after: int, upto: int) -> defaultdict[int, list[str]]:
    """Tags of the customers with ``after < id <= upto`` (a range: no id list to bind)."""
    out: defaultdict[int, list[str]] = defaultdict(list)
    rows = (
        await CustomerTag.select(CustomerTag.customer, CustomerTag.tag)
        .where(CustomerTag.customer > after, CustomerTag.customer <= upto)
        .order_by(CustomerTag.tag)
    )
    for row in rows:
        out[row["customer"]].append(row["tag"])
    return out


async def export_customers(
    actor: Actor, *, include_archived: bool = False, batch: int = 5000
) -> AsyncIterator[dict[str, Any]]:
    """Visible customers as flat dicts (owner/team by name, tags joined by ';')."""
    actor.require("customer:export")
    users = {u["id"]: u["username"] for u in await User.select(User.id, User.username)}
    teams = {t["id"]: t["name"] for t in await Team.select(Team.id, Team.name)}
    last = 0
    while True:
        query = Customer.select().where(Customer.id > last)
        scope = customer_scope(actor)
        if scope is not None:
            query = query.where(scope)
        if not include_archived:
            query = query.where(Customer.archived_at.is_null())
        rows = await query.order_by(Customer.id).limit(batch)
        if not rows:
            return
        tags = await _tags_between(last, rows[-1]["id"])
        for r in rows:
            derived = {
                "owner": users.get(r["owner"], ""),
                "team": teams.get(r["team"], ""),
                "tags": ";".join(tags[r["id"]]),
                "archived": r["archived_at"] is not None,
            }
            yield {k: derived[k] if k in derived else r.get(k) for k in EXPORT_COLUMNS}
        last = rows[-1]["id"]


async def export_contacts(actor: Actor, *, batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
    actor.require("customer:export")
    last = 0
    while True:
        query = Contact.select(
            *Contact.all_columns(), Contact.customer.name.as_alias("customer_name")
        ).where(Contact.id > last)
        scope = customer_scope(actor)
        if scope is not None:
            query = query.where(Contact.customer.is_in(Customer.select(Customer.id).where(scope)))
        rows = await query.order_by(Contact.id).limit(batch)
        if not rows:
            return
        for r in rows:
            yield {
                "id": r["id"],
                "customer_id": r["customer"],
                "customer": r["customer_name"],
                "name": r["name"],
                "title": r["title"],
                "buying_role": r["buying_role"],
                "email": r["email"],
                "phone": r["phone"],
                "is_primary": r["is_primary"],
                "notes": r["notes"],
            }
        last = rows[-1]["id"]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def write_export(
    rows: AsyncIterator[dict[str, Any]], out: TextIO, fmt: str, *, bom: bool = False
) -> int:
    """Write rows as ``csv`` (formula cells neutralised; ``bom`` for Excel) or ``jsonl``;
    returns the row count."""
    count = 0
    writer = None
    header: list[str] = []
    if bom and fmt == "csv":
        out.write(BOM)
    async for row in rows:
        if fmt == "jsonl":
            row = {k: _plain(v) for k, v in row.items()}
            if isinstance(row.get("custom_fields"), str):
                row["custom_fields"] = json.loads(row["custom_fields"] or "{}")
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            if writer is None:
                header = list(row)
                writer = SafeWriter(out)
                writer.writerow(header)
            custom = row.get("custom_fields", "")
            if not isinstance(custom, str):
                row["custom_fields"] = json.dumps(custom, ensure_ascii=False)
            writer.writerow([_plain(row[k]) for k in header])
        count += 1
    return count
