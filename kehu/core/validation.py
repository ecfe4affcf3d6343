"""Input normalisation shared by services, import and plugins."""

import functools
import re
import unicodedata

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from kehu.core.errors import FieldError

_COMPANY_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团",
    "公司",
    " co ltd",
    " co",
    " ltd",
    " limited",
    " inc",
    " llc",
    " gmbh",
    " corp",
    " corporation",
    " plc",
    " sa",
    " ag",
    " bv",
)


def name_key(name: str) -> str:
    """Normalised name for duplicate matching: NFKC, case-folded, no punctuation/spaces,
    common legal-form suffixes removed ("ACME Co., Ltd." == "acme")."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    changed = True
    while changed:
        changed = False
        for suffix in _COMPANY_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)].strip()
                changed = True
    return text.replace(" ", "")


# Fast paths for the common shapes, which must decide exactly as the libraries do (proved by
# tests/core/test_validation_fast_paths.py against email-validator and phonenumbers): imports
# spent half their time in those libraries for addresses and numbers like these.
_LOCAL = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SPECIAL = tuple(SPECIAL_USE_DOMAIN_NAMES)


def _plain_email(value: str) -> bool:
    """An ASCII dot-atom address on an ordinary domain (no IDNA, no quoting, no special-use
    names): email-validator accepts it and only lower-cases its domain."""
    if len(value) > 254 or not value.isascii():
        return False
    local, _, domain = value.partition("@")
    if not domain or len(local) > 64 or len(domain) > 253 or not _LOCAL.fullmatch(local):
        return False
    labels = domain.lower().split(".")
    return (
        len(labels) >= 2
        and labels[-1].isalpha()
        and all(_LABEL.fullmatch(label) and "--" not in label for label in labels)
        and not any(label in _SPECIAL for label in labels[-2:])
    )


def clean_email(value: str | None, field: str = "email") -> tuple[str, FieldError | None]:
    """A normalised e-mail address (or ``""``) and the error, if it is not one."""
    value = (value or "").strip()
    if not value:
        return "", None
    if _plain_email(value):
        return value.lower(), None
    try:
        return validate_email(value, check_deliverability=False).normalized.lower(), None
    except EmailNotValidError as exc:
        return value, FieldError(field, f"Invalid e-mail address {value!r}: {exc}", "INVALID_EMAIL")


@functools.cache
def _mobile_pattern(region: str) -> re.Pattern[str] | None:
    """The region's mobile numbers as phonenumbers' own metadata describes them."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.mobile is None or not metadata.mobile.national_number_pattern:
        return None
    return re.compile(metadata.mobile.national_number_pattern)


def _plain_mobile(value: str, region: str) -> str | None:
    """E.164 of a CN mobile number written as digits with optional spaces and hyphens
    (``138 0013 8000``, ``+86 138-0013-8000``), else ``None``."""
    if region != "CN":
        return None
    compact = value.replace(" ", "").replace("-", "")
    digits = compact[3:] if compact.startswith("+86") else compact
    if len(digits) != 11 or not digits.isdigit() or not digits.isascii():
        return None
    pattern = _mobile_pattern("CN")
    return f"+86{digits}" if pattern is not None and pattern.fullmatch(digits) else None


def clean_phone(
    value: str | None, region: str = "CN", field: str = "phone"
) -> tuple[str, FieldError | None]:
    """E.164 form (``+8613800138000``); numbers without ``+`` are read in ``region``."""
    value = (value or "").strip()
    if not value:
        return "", None
    plain = _plain_mobile(value, region)
    if plain is not None:
        return plain, None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return value, FieldError(field, f"Invalid phone number {value!r}", "INVALID_PHONE")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


BAD_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL and unpaired surrogates


def require_text(value: str | None, field: str, max_length: int) -> tuple[str, FieldError | None]:
    """Stripped text and the error if it is empty, longer than ``max_length`` or holds a NUL
    character or an unpaired surrogate (which PostgreSQL refuses and SQLite stores as is)."""
    value = (value or "").strip()
    if not value:
        return value, FieldError(field, f"{field} is required", "REQUIRED")
    if BAD_TEXT.search(value):
        return value, FieldError(
            field, f"{field} holds a NUL character or an unpaired surrogate", "INVALID_TEXT"
        )
    if len(value) > max_length:
        return value, FieldError(
            field, f"{field} is longer than {max_length} characters", "TOO_LONG"
        )
    return value, None
