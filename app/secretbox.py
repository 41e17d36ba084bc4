"""Secrets at rest: the one home of the `cryptography` package (docs/integrations.md#secrets-at-rest).

Integration signing secrets, platform API keys and webhook secrets are stored Fernet-encrypted
(AES-128-CBC + HMAC-SHA256, authenticated). Keys come from CALLSCOPE_ENCRYPTION_KEYS: the first
encrypts, every one decrypts, so a key is rotated by prepending a new one and re-encrypting.
Without configured keys one key is derived from CALLSCOPE_SECRET_KEY, so a development setup
needs nothing more; production should set its own (rotating the secret key then leaves stored
secrets readable).
"""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def invalid_keys(keys: Iterable[str]) -> list[str]:
    """The keys that are not Fernet keys (for settings validation)."""
    bad = []
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            bad.append(key)
    return bad


def derived_key(secret_key: str) -> str:
    """A Fernet key derived from the app's secret key (domain-separated from its other uses)."""
    digest = hashlib.sha256(b"callscope-secretbox:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


class SecretBox:
    """Encrypts secrets for storage and decrypts them for use; never logs them."""

    def __init__(self, keys: Iterable[str]):
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, settings) -> SecretBox:
        """Raises ValueError in a process started without either key (a worker may start without
        CALLSCOPE_SECRET_KEY; one that opens stored secrets needs one of them): a key derived from
        nothing would only fail later, as a secret that does not decrypt."""
        if not settings.encryption_keys and not settings.secret_key:
            raise ValueError("stored secrets need CALLSCOPE_ENCRYPTION_KEYS or CALLSCOPE_SECRET_KEY, "
                             "and this process has neither")
        return cls(settings.encryption_keys or (derived_key(settings.secret_key),))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, token: str) -> str:
        """Raises ValueError when no configured key decrypts it (keys rotated away)."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("a stored secret cannot be decrypted with the configured keys") from None

    def reseal(self, token: str) -> str:
        """The same secret under the first (newest) key."""
        return self._fernet.rotate(token.encode()).decode()


def hint(secret: str) -> str:
    """What the API shows of a secret after creation: `…` and its last four characters (of a
    secret shorter than 12, nothing)."""
    return f"…{secret[-4:]}" if len(secret) >= 12 else "…"
