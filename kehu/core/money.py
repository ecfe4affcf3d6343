"""Exact money: integer minor units plus an ISO 4217 currency code. Never floats."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import total_ordering

from kehu.core.errors import ValidationFailed

# ISO 4217 minor-unit exponents for the currencies a CRM meets; default 2.
_EXPONENTS = {
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "CLP": 0,
    "ISK": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}
ISO_4217 = frozenset(
    [
        "AED",
        "ARS",
        "AUD",
        "BDT",
        "BGN",
        "BHD",
        "BRL",
        "CAD",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CZK",
        "DKK",
        "EGP",
        "EUR",
        "GBP",
        "HKD",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "ISK",
        "JOD",
        "JPY",
        "KES",
        "KRW",
        "KWD",
        "KZT",
        "LKR",
        "MAD",
        "MOP",
        "MXN",
        "MYR",
        "NGN",
        "NOK",
        "NZD",
        "OMR",
        "PEN",
        "PHP",
        "PKR",
        "PLN",
        "QAR",
        "RON",
        "RUB",
        "SAR",
        "SEK",
        "SGD",
        "THB",
        "TND",
        "TRY",
        "TWD",
        "UAH",
        "USD",
        "VND",
        "ZAR",
    ]
)


def check_currency(code: str) -> str:
    """Return the upper-cased ISO 4217 code or raise ``ValidationFailed``."""
    normalized = (code or "").strip().upper()
    if normalized not in ISO_4217:
        raise ValidationFailed(
            f"Unknown currency {code!r} (ISO 4217 code expected)", field="currency"
        )
    return normalized


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


@total_ordering
@dataclass(frozen=True)
class Money:
    """An amount in minor units (``minor=12345, currency="CNY"`` is ¥123.45)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError("Money.minor must be an int")

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
        scaled = value.scaleb(exponent(currency))
        if scaled != scaled.to_integral_value():
            raise ValidationFailed(
                f"{amount} has more decimals than {currency} allows", field="amount"
            )
        return cls(int(scaled), currency)

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
