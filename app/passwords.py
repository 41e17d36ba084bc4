"""Password hashing: argon2id through argon2-cffi (this library's one home).

The parameters are argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes,
4 lanes), about 50 ms per hash on one core — slow enough that a stolen table is expensive to
guess through, fast enough that a sign-in does not notice. A hash made with older parameters
is re-made at the next successful sign-in (`needs_rehash`).
"""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
MIN_LENGTH = 10
MAX_LENGTH = 1024  # longer inputs are refused before hashing (argon2 would accept them, slowly)

# Verified against when the email is unknown, so an unknown address costs the same time as a
# wrong password and the answer's timing does not say which accounts exist.
_DUMMY_HASH = _HASHER.hash("callscope-no-such-user")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; False for a mismatch, a malformed hash or no hash at all."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _HASHER.check_needs_rehash(password_hash)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None. Length is the rule (NIST SP 800-63B): no
    composition rules, which push people towards predictable patterns."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    return None
