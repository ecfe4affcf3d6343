"""Exact money: integer minor units plus an ISO 4217 currency code. Never floats."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import total_ordering

from iso4217 import Currency

from kehu.core.errors import ValidationFailed

# Every active ISO 4217 currency with minor units, from the ``iso4217`` package (the SIX list;
# precious metals and funds without minor units excluded).
EXPONENTS: dict[str, int] = {c.code: c.exponent for c in Currency if c.exponent is not None}
ISO_4217 = frozenset(EXPONENTS)
# The largest amount Kehu stores, in minor units: 15 digits (¥9,999,999,999,999.99). Sums of
# up to 9,000 such amounts stay exact in a 64-bit integer, on SQLite and PostgreSQL alike.
MAX_MINOR = 10**15 - 1


def check_currency(code: str) -> str:
    """``code`` if it is an upper-case ISO 4217 code, else ``ValidationFailed``."""
    if code not in ISO_4217:
        hint = (
            " (codes are upper-case)" if isinstance(code, str) and code.upper() in ISO_4217 else ""
        )
        raise ValidationFailed(
            f"Unknown currency {code!r}: an ISO 4217 code such as 'CNY' expected{hint}",
            field="currency",
        )
    return code


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency, 2)


@total_ordering
@dataclass(frozen=True)
class Money:
    """An amount in minor units (``minor=12345, currency="CNY"`` is ¥123.45)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money.minor must be an int")

    def check_bound(self, field: str = "amount") -> "Money":
        """``self`` if it is within ``MAX_MINOR``, else ``ValidationFailed``."""
        if abs(self.minor) > MAX_MINOR:
            limit = Money(MAX_MINOR, self.currency).amount
            raise ValidationFailed(
                f"{self.amount} {self.currency} is beyond the largest amount Kehu stores ({limit})",
                field=field,
            )
        return self

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal | str | int, currency: str) -> "Money":
        """Parse a major-unit amount; more decimals than the currency allows is an error."""
        currency = check_currency(currency)
        try:
            value = Decimal(str(amount))
        except InvalidOperation:
            raise ValidationFailed(f"Invalid amount {amount!r}", field="amount") from None
        if not value.is_finite():
            raise ValidationFailed(f"Invalid amount {amount!r}", field="amount")
        if value.adjusted() > 18:  # scaleb would overflow the context, and it is too big anyway
            raise ValidationFailed(f"Amount {amount} is too large", field="amount")
        scaled = value.scaleb(exponent(currency))
        if scaled != scaled.to_integral_value():
            raise ValidationFailed(
                f"{amount} has more decimals than {currency} allows", field="amount"
            )
        return cls(int(scaled), currency).check_bound()

    @property
    def amount(self) -> Decimal:
        """Major units as an exact Decimal (``Decimal('123.45')``)."""
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def _same(self, other: "Money") -> None:
        if self.currency != other.currency:
            raise ValidationFailed(
                f"Currency mismatch: {self.currency} vs {other.currency}", field="currency"
            )

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.minor, self.currency)

    def multiply(self, factor: Decimal | int | str) -> "Money":
        """Multiply by an exact factor, rounding half up to the minor unit."""
        product = Decimal(self.minor) * Decimal(str(factor))
        return Money(int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP)), self.currency)

    def __lt__(self, other: "Money") -> bool:
        self._same(other)
        return self.minor < other.minor

    def allocate(self, weights: list[int | Decimal]) -> list["Money"]:
        """Split by weights so the parts sum exactly to the whole (largest remainder, exact
        rational arithmetic; ties go to the earlier part)."""
        shares = [Fraction(str(w)) for w in weights]
        if not shares or any(w < 0 for w in shares):
            raise ValueError("weights must be non-empty and non-negative")
        total = sum(shares)
        if total == 0:
            raise ValueError("weights must not all be zero")
        sign = -1 if self.minor < 0 else 1
        whole = abs(self.minor)
        exact = [whole * w / total for w in shares]
        parts = [int(e) for e in exact]  # floor: shares are non-negative
        order = sorted(range(len(shares)), key=lambda i: (exact[i] - parts[i], -i), reverse=True)
        for i in order[: whole - sum(parts)]:
            parts[i] += 1
        return [Money(sign * p, self.currency) for p in parts]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
