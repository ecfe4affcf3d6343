"""Input normalisation shared by services, import and plugins."""

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

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


def clean_email(value: str | None, field: str = "email") -> tuple[str, FieldError | None]:
    """A normalised e-mail address (or ``""``) and the error, if it is not one."""
    value = (value or "").strip()
    if not value:
        return "", None
    try:
        return validate_email(value, check_deliverability=False).normalized.lower(), None
    except EmailNotValidError as exc:
        return value, FieldError(field, f"Invalid e-mail address {value!r}: {exc}", "INVALID_EMAIL")


def clean_phone(
    value: str | None, region: str = "CN", field: str = "phone"
) -> tuple[str, FieldError | None]:
    """E.164 form (``+8613800138000``); numbers without ``+`` are read in ``region``."""
    value = (value or "").strip()
    if not value:
        return "", None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return value, FieldError(field, f"Invalid phone number {value!r}", "INVALID_PHONE")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def require_text(value: str | None, field: str, max_length: int) -> tuple[str, FieldError | None]:
    """Stripped text and the error if it is empty or longer than ``max_length``."""
    value = (value or "").strip()
    if not value:
        return value, FieldError(field, f"{field} is required", "REQUIRED")
    if len(value) > max_length:
        return value, FieldError(
            field, f"{field} is longer than {max_length} characters", "TOO_LONG"
        )
    return value, None
