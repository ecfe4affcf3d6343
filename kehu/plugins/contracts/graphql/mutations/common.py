"""Types and helpers the contracts mutations share."""

from kehu.core.graphql.base import pk_of
from kehu.core.money import Money as MoneyValue
from kehu.plugins.contracts.graphql.inputs import AllocationInput


def _allocs(items: list[AllocationInput]) -> list[tuple[int, MoneyValue]]:
    return [
        (
            pk_of(a.installment_id, "Installment", f"allocations[{i}].installmentId"),
            a.amount.to_value(),
        )
        for i, a in enumerate(items)
    ]


def _cid(gid: str, field: str = "id") -> int:
    return pk_of(gid, "Contract", field)
