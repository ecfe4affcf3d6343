"""Encryption of stored integration secrets (webhook signing secrets), which must be read
back to be used and so cannot be hashed like API keys. Fernet (``cryptography``) with a key
derived from the ``secret_key`` setting; without one, a random key generated once and kept
in the database (set ``secret_key`` in production so the key does not live beside the data).
"""

import base64
import hashlib
import secrets as random_secrets

from cryptography.fernet import Fernet, InvalidToken

from kehu.core.context import current
from kehu.core.errors import KehuError
from kehu.core.tables import KeyValue

KEY_NAME = "encryption_key"


class SecretUnreadable(KehuError):
    """A stored secret cannot be decrypted (``secret_key`` changed)."""

    code = "SECRET_UNREADABLE"


async def _fernet() -> Fernet:
    configured = current().settings.secret_key
    if not configured:
        row = await KeyValue.select(KeyValue.value).where(KeyValue.name == KEY_NAME).first()
        if row is None:
            await KeyValue.insert(
                KeyValue(name=KEY_NAME, value=random_secrets.token_urlsafe(32))
            ).on_conflict(target=KeyValue.name, action="DO NOTHING")
            row = await KeyValue.select(KeyValue.value).where(KeyValue.name == KEY_NAME).first()
        assert row is not None  # inserted above if it was missing
        configured = row["value"]
    digest = hashlib.sha256(configured.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


async def encrypt(text: str) -> str:
    return (await _fernet()).encrypt(text.encode()).decode()


async def decrypt(token: str) -> str:
    try:
        return (await _fernet()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted: was secret_key changed? Rotate the secret"
        ) from None
