"""Input normalisation: duplicate-matching name keys, e-mail addresses and phone numbers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kehu.core.errors import FieldError
from kehu.core.validation import clean_email, clean_phone, name_key, require_text


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("ACME", "acme"),
        ("acme", "acme"),
        ("ACME Co., Ltd.", "acme"),
        ("Acme Co Ltd", "acme"),
        ("ACME Inc.", "acme"),
        ("Acme, LLC", "acme"),
        ("ACME Corporation", "acme"),
        ("Acme Limited", "acme"),
        ("Acme GmbH", "acme"),
        ("Acme PLC", "acme"),
        ("Nordlicht Energie GmbH", "nordlichtenergie"),
        ("Sakura Foods Co., Ltd.", "sakurafoods"),
        ("  Blue   Harbor  Logistics Inc. ", "blueharborlogistics"),
        ("A-B & C", "abc"),
        ("O'Brien's", "obriens"),
        # full-width letters, space and punctuation (NFKC)
        ("ＡＣＭＥ　Ｉｎｃ．", "acme"),
        ("ＡＣＭＥ（上海）", "acme上海"),
        ("上海星辰科技有限公司", "上海星辰科技"),
        ("上海星辰科技股份有限公司", "上海星辰科技"),
        ("上海星辰科技有限责任公司", "上海星辰科技"),
        ("星辰集团", "星辰"),
        ("星辰集团有限公司", "星辰"),
        ("上海星辰科技", "上海星辰科技"),
        # a name that *is* a suffix is kept
        ("Co", "co"),
        ("Inc", "inc"),
        ("公司", "公司"),
        # suffixes only match whole words
        ("Disco", "disco"),
        ("Costco", "costco"),
        ("Mesa", "mesa"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
    ],
)
def test_name_key(name, key):
    assert name_key(name) == key


def test_name_key_makes_variants_equal():
    variants = ["ACME Co., Ltd.", "acme", "ＡＣＭＥ", "Acme Ltd", "A.C.M.E.", "acme inc"]
    assert {name_key(v) for v in variants} == {"acme"}


@given(st.text(max_size=60))
def test_name_key_is_idempotent_and_compact(name):
    key = name_key(name)
    assert " " not in key
    assert key == key.casefold() or not key.isascii()
    assert name_key(key) == key or key == ""


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a@example.com", "a@example.com"),
        ("  Foo.Bar@Example.COM ", "foo.bar@example.com"),
        ("x+tag@sub.example.org", "x+tag@sub.example.org"),
        ("", ""),
        (None, ""),
        ("   ", ""),
        ("张三@例子.中国", "张三@例子.中国"),
    ],
)
def test_clean_email_valid(raw, clean):
    assert clean_email(raw) == (clean, None)


@pytest.mark.parametrize("raw", ["bad", "a@b", "@example.com", "a@@example.com", "a b@c.com"])
def test_clean_email_invalid(raw):
    value, error = clean_email(raw, field="contactEmail")
    assert value == raw.strip()
    assert isinstance(error, FieldError)
    assert error.field == "contactEmail"
    assert error.code == "INVALID_EMAIL"
    assert raw in error.message


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", "+8613800138000"),  # CN mobile, default region
        ("138 0013 8000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("+86-13800138000", "+8613800138000"),
        ("010-12345678", "+861012345678"),  # Beijing landline
        ("(021) 6212 3456", "+862162123456"),
        ("+1 650 253 0000", "+16502530000"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+44 20 7946 0958", "+442079460958"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_phone_valid(raw, e164):
    assert clean_phone(raw) == (e164, None)


def test_clean_phone_other_default_region():
    assert clean_phone("(650) 253-0000", region="US") == ("+16502530000", None)
    # the same digits are not a valid Chinese number
    assert clean_phone("(650) 253-0000")[1] is not None


@pytest.mark.parametrize("raw", ["12345", "abc", "+1 555", "1380013800", "+86 000 0000 0000"])
def test_clean_phone_invalid(raw):
    value, error = clean_phone(raw, field="mobile")
    assert value == raw
    assert error == FieldError("mobile", f"Invalid phone number {raw!r}", "INVALID_PHONE")


def test_require_text():
    assert require_text("  x  ", "name", 10) == ("x", None)
    assert require_text("", "name", 10)[1].code == "REQUIRED"
    assert require_text(None, "name", 10)[1].code == "REQUIRED"
    _, error = require_text("x" * 11, "name", 10)
    assert error.code == "TOO_LONG" and error.field == "name"
