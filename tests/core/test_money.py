"""Money: exact minor units, allocation, parsing and rounding."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kehu.core.errors import ValidationFailed
from kehu.core.money import EXPONENTS, ISO_4217, MAX_MINOR, Money, check_currency, exponent

BIGINT = 2**63 - 1  # money is stored as BigInt minor units
currencies = st.sampled_from(sorted(ISO_4217))
minors = st.integers(min_value=-BIGINT, max_value=BIGINT)
int_weights = st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(any)
decimal_weights = st.lists(
    st.decimals(min_value=0, max_value=10**4, places=4, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=8,
).filter(lambda ws: sum(ws) > 0)


# -- allocation ----------------------------------------------------------------------------


@given(minors, int_weights, currencies)
def test_allocate_parts_sum_exactly_to_the_whole(minor, weights, currency):
    whole = Money(minor, currency)
    parts = whole.allocate(weights)
    assert len(parts) == len(weights)
    assert sum(p.minor for p in parts) == minor
    assert {p.currency for p in parts} == {currency}


@given(minors, decimal_weights)
def test_allocate_with_decimal_weights_sums_exactly(minor, weights):
    parts = Money(minor, "CNY").allocate(weights)
    assert sum(p.minor for p in parts) == minor


@given(minors, int_weights)
def test_allocate_is_proportional_within_one_minor_unit(minor, weights):
    parts = Money(minor, "USD").allocate(weights)
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(minor) * weight / total
        assert abs(Decimal(part.minor) - exact) < 1
        if weight == 0:
            assert part.minor == 0


@given(minors, st.integers(1, 50), st.integers(1, 1000))
def test_allocate_equal_weights_differ_by_at_most_one(minor, n, weight):
    parts = [p.minor for p in Money(minor, "CNY").allocate([weight] * n)]
    assert sum(parts) == minor
    assert max(parts) - min(parts) <= 1
    # the extra minor units go to the first parts, so the result is deterministic
    assert parts == sorted(parts, key=abs, reverse=True)


def test_allocate_examples():
    assert [p.minor for p in Money(10, "CNY").allocate([1, 1, 1])] == [4, 3, 3]
    assert [p.minor for p in Money(-10, "CNY").allocate([1, 1, 1])] == [-4, -3, -3]
    assert [p.minor for p in Money(100, "CNY").allocate([70, 20, 10])] == [70, 20, 10]
    assert [p.minor for p in Money(5, "CNY").allocate([1, 0, 1])] == [3, 0, 2]
    assert [p.minor for p in Money(0, "CNY").allocate([1, 2])] == [0, 0]


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
def test_allocate_rejects_bad_weights(weights):
    with pytest.raises(ValueError):
        Money(100, "CNY").allocate(weights)


def test_allocate_exact_for_amounts_beyond_decimal_precision():
    # shares beyond Decimal's 28 digits must not round up to an integer
    total_weight = 10**12
    whole = total_weight * 10**20 - 1
    parts = Money(whole, "CNY").allocate([1, total_weight - 1])
    assert sum(p.minor for p in parts) == whole


# -- parsing ---------------------------------------------------------------------------------


@given(st.integers(-MAX_MINOR, MAX_MINOR), currencies)
def test_from_decimal_amount_round_trip(minor, currency):
    money = Money(minor, currency)
    assert Money.from_decimal(money.amount, currency) == money
    assert Money.from_decimal(str(money.amount), currency) == money
    assert money.amount.as_tuple().exponent == -exponent(currency)


@given(st.integers(MAX_MINOR + 1, 10**30), st.sampled_from([1, -1]), currencies)
def test_amounts_beyond_the_bound_are_refused_not_overflowed(minor, sign, currency):
    with pytest.raises(ValidationFailed) as info:
        Money.from_decimal(Money(sign * minor, currency).amount, currency)
    assert info.value.field == "amount"


@given(st.integers(-(10**12), 10**12), st.integers(1, 9), currencies)
def test_too_many_decimals_is_rejected(minor, extra, currency):
    digits = exponent(currency) + 1
    # one more decimal than allowed, with a non-zero last digit
    amount = Decimal(minor * 10 + extra).scaleb(-digits)
    with pytest.raises(ValidationFailed) as info:
        Money.from_decimal(amount, currency)
    assert info.value.field == "amount"
    assert "decimals" in info.value.message


def test_trailing_zeros_are_not_extra_decimals():
    assert Money.from_decimal("12.3400", "CNY") == Money(1234, "CNY")
    assert Money.from_decimal("1e3", "CNY") == Money(100000, "CNY")
    assert Money.from_decimal(7, "JPY") == Money(7, "JPY")


@pytest.mark.parametrize("amount", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "abc", ""])
def test_invalid_amounts(amount):
    with pytest.raises(ValidationFailed) as info:
        Money.from_decimal(amount, "CNY")
    assert info.value.field == "amount"


def test_nan_decimal_and_float():
    for value in (Decimal("NaN"), float("nan"), float("inf")):
        with pytest.raises(ValidationFailed):
            Money.from_decimal(value, "USD")


@pytest.mark.parametrize("code", ["XXX", "", "US", "usdollar", "RMB", None])
def test_unknown_currency(code):
    with pytest.raises(ValidationFailed) as info:
        Money.from_decimal("1.00", code)
    assert info.value.field == "currency"
    assert info.value.code == "VALIDATION"


def test_check_currency_takes_upper_case_iso_4217_codes_only():
    assert check_currency("CNY") == "CNY"
    assert check_currency("XOF") == "XOF"  # the whole ISO 4217 list, not a CRM's favourites
    for wrong in (" cny ", "cny", "Jpy", "CNY ", "XAU", "ABC", ""):
        with pytest.raises(ValidationFailed) as info:
            check_currency(wrong)
        assert info.value.field == "currency"
    with pytest.raises(ValidationFailed, match="upper-case"):
        check_currency("cny")


def test_jpy_and_friends_have_no_decimals():
    assert exponent("JPY") == 0
    assert Money.from_decimal("1500", "JPY") == Money(1500, "JPY")
    assert Money(1500, "JPY").amount == Decimal("1500")
    assert str(Money(1500, "JPY")) == "1500 JPY"
    with pytest.raises(ValidationFailed):
        Money.from_decimal("1500.5", "JPY")
    assert exponent("KWD") == 3
    assert Money.from_decimal("1.234", "KWD").minor == 1234
    assert exponent("CNY") == 2
    assert str(Money(12345, "CNY")) == "123.45 CNY"
    assert set(EXPONENTS) <= ISO_4217


def test_minor_must_be_int():
    with pytest.raises(TypeError):
        Money(1.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "CNY")
    with pytest.raises(TypeError):
        Money(Decimal(1), "CNY")  # type: ignore[arg-type]


# -- arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "factor", "expected"),
    [
        (5, "0.5", 3),  # 2.5 -> 3: half up, not banker's (which gives 2)
        (15, "0.1", 2),  # 1.5 -> 2
        (25, "0.1", 3),  # 2.5 -> 3 (banker's would give 2)
        (-5, "0.5", -3),  # half away from zero
        (-25, "0.1", -3),
        (10, "0.333", 3),
        (10, "0.35", 4),  # 3.5 -> 4
        (100, 3, 300),
        (100, Decimal("1.13"), 113),
        (1, "0.4999", 0),
    ],
)
def test_multiply_rounds_half_up(minor, factor, expected):
    assert Money(minor, "CNY").multiply(factor) == Money(expected, "CNY")


@given(minors.filter(lambda m: abs(m) < 10**15), st.decimals(-1000, 1000, places=4))
def test_multiply_is_within_half_a_minor_unit(minor, factor):
    result = Money(minor, "EUR").multiply(factor)
    assert abs(Decimal(result.minor) - Decimal(minor) * factor) <= Decimal("0.5")


@given(minors, minors, currencies)
def test_add_and_subtract(a, b, currency):
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y).minor == a + b
    assert (x - y).minor == a - b
    assert (x - y) + y == x
    assert -x == Money(-a, currency)


@pytest.mark.parametrize("op", ["add", "sub"])
def test_currency_mismatch_raises(op):
    cny, usd = Money(100, "CNY"), Money(100, "USD")
    with pytest.raises(ValidationFailed) as info:
        _ = cny + usd if op == "add" else cny - usd
    assert info.value.field == "currency"
    assert "CNY" in info.value.message and "USD" in info.value.message


def test_comparing_different_currencies_raises():
    for compare in (
        lambda: Money(100, "CNY") < Money(200, "USD"),
        lambda: Money(100, "CNY") >= Money(200, "USD"),
        lambda: sorted([Money(1, "CNY"), Money(2, "USD")]),
    ):
        with pytest.raises(ValidationFailed):
            compare()
    assert Money(100, "CNY") != Money(100, "USD")  # equality is still allowed


def test_zero_and_ordering():
    assert Money.zero("CNY") == Money(0, "CNY")
    assert Money(1, "CNY") > Money.zero("CNY")
    assert sorted([Money(3, "CNY"), Money(-1, "CNY")])[0].minor == -1
