"""The values incentives computes with: an actual (``Value``) and a commission ``Source``."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Value:
    """An actual: ``minor`` + ``currency`` for money, ``number`` for counts and ratios."""

    number: Decimal
    currency: str = ""

    @property
    def minor(self) -> int:
        return int(self.number)


@dataclass(frozen=True)
class Source:
    """A money event a commission is computed from."""

    key: str  # deterministic: "won:12", "invoice:3", "credit:5", "payment:7", "alloc:9"
    basis: str
    day: date
    base_minor: int  # signed: reversals and refunds are negative
    currency: str
    ref: str  # human reference: "payment P-7 allocated to HT-2026-00001"
    owner: int | None
    team: int | None
    participants: tuple[tuple[int, str], ...] = field(default=())
    contract: int | None = None  # the contract a contract source belongs to


def participants(owner: int | None, team: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """The opportunity team; the owner is the AM when the team has none."""
    members = list(dict.fromkeys(team))
    if owner is not None and not any(role == "am" for _, role in members):
        members.insert(0, (owner, "am"))
    return tuple(members)
