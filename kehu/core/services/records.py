"""Versioned records: one call for an optimistic-locked change with its audit row and event,
and one wording of the conflict."""

from collections.abc import Mapping
from typing import Any

from piccolo.table import Table

from kehu.core.errors import Conflict, NotFound
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import diff, now


def stale(entity: str, pk: int, expected_version: int | None = None) -> Conflict:
    """The conflict of a change based on an old version of a record."""
    expected = f" (expected version {expected_version})" if expected_version is not None else ""
    return Conflict(
        f"{entity.replace('_', ' ').capitalize()} {pk} was changed by someone else{expected}; "
        "reload and retry"
    )


async def update_versioned(
    actor: Actor,
    table: type[Table],
    pk: int,
    expected_version: int | None,
    values: Mapping[Any, Any],
    *,
    entity: str,
    action: str = "updated",
    customer_id: int | None = None,
) -> dict[str, Any]:
    """Change row ``pk`` of ``table`` (a table with ``version`` and ``updated_at``) in one
    unit of work: ``NotFound`` if it is gone, ``Conflict`` if ``expected_version`` is stale
    or another change wins the race, then ``version + 1``, ``updated_at``, and the audit row
    and ``<entity>.<action>`` event with the changed columns. Check the actor's right to
    change it before. Returns the row after the change."""
    columns = {c._meta.name: c for c in table._meta.columns}
    async with unit_of_work():
        before = await table.select().where(table._meta.primary_key == pk).first()
        if before is None:
            raise NotFound(f"{entity.replace('_', ' ').capitalize()} {pk} not found")
        if expected_version is not None and before["version"] != expected_version:
            raise stale(entity, pk, expected_version)
        changes = {(columns[k] if isinstance(k, str) else k): v for k, v in values.items()}
        changes[columns["version"]] = before["version"] + 1
        changes[columns["updated_at"]] = now()
        rows = await (
            table.update(changes)
            .where(table._meta.primary_key == pk, columns["version"] == before["version"])
            .returning(*table.all_columns())
        )
        if not rows:
            raise stale(entity, pk, expected_version)
        after = rows[0]
        old, new = diff(before, after)
        await record(
            actor, action, entity, pk, old, new, customer_id=customer_id or before.get("customer")
        )
    return after
