"""The fast paths of ``clean_email`` and ``clean_phone`` decide exactly as email-validator and
phonenumbers do: the same accept/reject decision and the same normalised value, on generated
and real-world-shaped inputs."""

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kehu.core.validation import clean_email, clean_phone


def reference_email(value: str) -> tuple[str, bool]:
    value = value.strip()
    if not value:
        return "", True
    try:
        return validate_email(value, check_deliverability=False).normalized.lower(), True
    except EmailNotValidError:
        return value, False


def reference_phone(value: str, region: str = "CN") -> tuple[str, bool]:
    value = value.strip()
    if not value:
        return "", True
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value, False
    if not phonenumbers.is_valid_number(number):
        return value, False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True


def decided(result: tuple[str, object]) -> tuple[str, bool]:
    value, error = result
    return value, error is None


LABEL = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9-]{0,8}[a-zA-Z0-9]|[a-z0-9]", fullmatch=True)
SHAPED_EMAIL = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
    st.from_regex(r"[A-Za-z0-9_+.-]{1,20}", fullmatch=True),
    st.lists(LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "cn", "org", "COM", "x", "c1", "test", "local", "arpa", "onion"]),
)


@settings(max_examples=600, deadline=None)
@given(st.one_of(SHAPED_EMAIL, st.emails(), st.text(max_size=40)))
@example("Wang.Wei@Example.COM")
@example("a..b@example.com")
@example(".a@example.com")
@example("a@-b.com")
@example("a@b-.com")
@example("a@xn--b.com")
@example("a@ab--cd.com")
@example("a@b.localhost")
@example("a@localhost.com")
@example("a@b.home.arpa")
@example("a@123.com")
@example("1@2.3")
@example("zhang_san+crm@mail.qq.com")
@example("x" * 65 + "@example.com")
@example("a@" + "b" * 64 + ".com")
@example("li@例子.中国")
@example(" spaced@example.com ")
def test_clean_email_decides_as_email_validator(value: str):
    assert decided(clean_email(value)) == reference_email(value)


DIGITS = st.from_regex(r"1[0-9]{10}", fullmatch=True)
SPACED = st.builds(
    lambda prefix, d, cuts, sep: (
        prefix + "".join(c + (sep if i in cuts else "") for i, c in enumerate(d))
    ),
    st.sampled_from(["", "+86", "+86 ", "+86-", "+ 86", "86", " -"]),
    DIGITS,
    st.sets(st.integers(0, 10), max_size=4),
    st.sampled_from([" ", "-", "  ", "- "]),
)
SHAPED_PHONE = st.one_of(
    DIGITS,
    DIGITS.map(lambda d: "+86" + d),
    SPACED,
    st.from_regex(r"\+?[0-9]{6,14}", fullmatch=True),
    st.from_regex(r"\+86[0-9]{9,12}", fullmatch=True),
)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(SHAPED_PHONE, st.text(alphabet="+0123456789 -()", max_size=18)))
@example("13800138000")
@example("+8613800138000")
@example("19912345678")
@example("14012345678")
@example("17400123456")
@example("17912345678")
@example("10012345678")
@example("+861380013800")
@example("+85213800138000")
@example("138 0013 8000")
@example("+86 138-0013-8000")
@example("-13800138000")
@example("13800138000-")
@example("+86-13800138000")
@example("++8613800138000")
@example("١٣٨٠٠١٣٨٠٠٠")
def test_clean_phone_decides_as_phonenumbers(value: str):
    assert decided(clean_phone(value)) == reference_phone(value)


@settings(max_examples=300, deadline=None)
@given(DIGITS, st.sampled_from(["US", "GB", "DE", "HK"]))
def test_other_regions_take_the_library_path(digits: str, region: str):
    assert decided(clean_phone(digits, region)) == reference_phone(digits, region)
