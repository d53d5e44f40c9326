"""Signed tokens (the only module that touches python-jose): keys, JWKS, signing, verification."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from jose.exceptions import JOSEError

from ..core.config import Settings, _write_private

ALGORITHM = "RS256"
ACCESS = "access"
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")
TIME_CLAIMS = ("exp", "iat", "nbf")
# A token is valid from this long before it is signed: a replica whose clock runs behind the
# signer's by up to a minute accepts it at once instead of refusing it as not yet valid.
CLOCK_SKEW = 60


class InvalidToken(Exception):
    """The token is malformed, forged, expired or meant for someone else."""


def _b64(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class _PublicKey:
    kid: str
    jwk: dict[str, str]
    key: Any  # a prepared jose Key, so verification does not re-parse PEM


def _public_entry(public: rsa.RSAPublicKey) -> _PublicKey:
    numbers = public.public_numbers()
    members = {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}
    # RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
    thumb = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    kid = base64.urlsafe_b64encode(thumb).decode().rstrip("=")
    entry = {**members, "kid": kid, "use": "sig", "alg": ALGORITHM}
    return _PublicKey(kid, entry, jwk.construct(public, ALGORITHM))


class KeySet:
    """The signing key and every public key still accepted (the current one and retired ones)."""

    def __init__(self, private_pem: bytes, retired_public_pems: list[bytes] | None = None) -> None:
        private = serialization.load_pem_private_key(private_pem, password=None)
        if not isinstance(private, rsa.RSAPrivateKey) or private.key_size < 2048:
            raise ValueError("the signing key must be an RSA private key of at least 2048 bits")
        self._signer = jwk.construct(private, ALGORITHM)
        current = _public_entry(private.public_key())
        self.kid = current.kid
        self._public = {current.kid: current}
        for pem in retired_public_pems or []:
            public = serialization.load_pem_public_key(pem)
            if isinstance(public, rsa.RSAPublicKey):
                entry = _public_entry(public)
                self._public.setdefault(entry.kid, entry)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeySet:
        """The configured key, or in development one generated once into the data directory."""
        if settings.signing_key:
            return cls(settings.signing_key.encode(), _retired(settings.keys_dir))
        if settings.signing_key_file:
            return cls(settings.signing_key_file.read_bytes(), _retired(settings.keys_dir))
        if settings.is_production:  # pragma: no cover - refused by Settings
            raise RuntimeError("no signing key configured")
        path = settings.keys_dir / "signing-key.pem"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_private(path, pem.decode())
        return cls(path.read_bytes(), _retired(settings.keys_dir))

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [entry.jwk for entry in self._public.values()]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._signer, algorithm=ALGORITHM, headers={"kid": self.kid})

    def signs_now(self, token: str) -> bool:
        """Whether `token` names the current signing key (a retired key's tokens are only
        accepted until they expire, and are not handed out again)."""
        try:
            return jwt.get_unverified_header(token).get("kid") == self.kid
        except JOSEError:
            return False

    def verify(self, token: str, *, audience: str, issuer: str) -> dict[str, Any]:
        """Claims of a genuine, current token for this audience; InvalidToken otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unexpected algorithm")
        entry = self._public.get(str(header.get("kid")))
        if entry is None:
            raise InvalidToken("unknown key id")
        try:
            claims = jwt.decode(
                token,
                entry.key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=issuer,
                options={f"require_{claim}": True for claim in REQUIRED_CLAIMS},
            )
        except JOSEError as exc:
            if "(nbf)" in str(exc):  # python-jose reports it as a claims error, with this text
                raise InvalidToken("NotYetValid") from None
            raise InvalidToken(type(exc).__name__) from None
        except (TypeError, ValueError):
            # python-jose calls int() on time claims and lets a null or a list escape.
            raise InvalidToken("malformed claims") from None
        for name in TIME_CLAIMS:
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise InvalidToken(f"{name} must be a number")
        return claims


def _retired(keys_dir: Path) -> list[bytes]:
    """Public keys of retired signing keys, still published until their tokens expire."""
    folder = keys_dir / "retired"
    return [p.read_bytes() for p in sorted(folder.glob("*.pem"))] if folder.is_dir() else []


class AccessTokens:
    """Short-lived access tokens for accounts."""

    def __init__(self, keys: KeySet, settings: Settings) -> None:
        self.keys = keys
        self.issuer = settings.issuer
        self.audience = settings.audience
        self.ttl = settings.access_token_ttl_seconds

    def issue(self, account_id: uuid.UUID, *, kind: str) -> str:
        return self.issue_until(account_id, kind=kind)[0]

    def issue_until(
        self, account_id: uuid.UUID, *, kind: str, not_after: float | None = None
    ) -> tuple[str, int]:
        """An access token and its lifetime in seconds: the usual one, but never past
        `not_after` (epoch seconds: the end of the sign-in it belongs to)."""
        now = int(time.time())
        expires = now + self.ttl
        if not_after is not None:
            expires = max(now, min(expires, int(not_after)))
        token = self.keys.sign(
            {
                "iss": self.issuer,
                "aud": self.audience,
                "sub": str(account_id),
                "iat": now,
                "nbf": now - CLOCK_SKEW,
                "exp": expires,
                "jti": uuid.uuid4().hex,
                "token_use": ACCESS,
                "kind": kind,
            }
        )
        return token, expires - now

    def verify(self, token: str) -> uuid.UUID:
        """The account a valid access token speaks for."""
        return self.authenticate(token)[0]

    def authenticate(self, token: str) -> tuple[uuid.UUID, int]:
        """The account a valid access token speaks for, and when the token expires (epoch s)."""
        claims = self.keys.verify(token, audience=self.audience, issuer=self.issuer)
        if claims.get("token_use") != ACCESS:
            raise InvalidToken("not an access token")
        try:
            return uuid.UUID(str(claims["sub"])), int(claims["exp"])
        except ValueError:
            raise InvalidToken("bad subject") from None
