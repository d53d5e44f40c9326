"""Password and client-secret hashing with argon2 (pwdlib)."""

from __future__ import annotations

from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()
# Verified against when the login name is unknown, so timing does not reveal which names exist.
_DUMMY = _hasher.hash("registry-timing-equaliser")

MIN_LENGTH = 10
MAX_LENGTH = 256  # what the token endpoint accepts


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret: str, hashed: str | None) -> bool:
    if hashed is None:
        _hasher.verify(secret, _DUMMY)
        return False
    return _hasher.verify(secret, hashed)


def check_strength(password: str) -> None:
    """Refuse passwords that are too short, too long to sign in with, or all one kind of
    character."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"password must have at most {MAX_LENGTH} characters")
    if password.isdigit() or password.isalpha():
        raise ValueError("password must mix letters with digits or symbols")
