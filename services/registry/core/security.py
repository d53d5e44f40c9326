"""Personal data at rest and on the wire: AES-GCM encryption, a keyed blind index, masking."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


class PiiCipher:
    """Encrypts document numbers bound to their row, and derives the blind index used for lookup."""

    def __init__(self, encryption_key: bytes, index_key: bytes) -> None:
        if encryption_key == index_key:
            raise ValueError("the encryption key and the blind index key must differ")
        self._aead = AESGCM(encryption_key)
        self._index_key = index_key

    def encrypt(self, plaintext: str, *, context: bytes) -> bytes:
        """Version byte, 96-bit nonce, ciphertext; `context` (the row id) is authenticated data."""
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext.encode(), context)

    def decrypt(self, blob: bytes, *, context: bytes) -> str:
        if blob[:1] != _VERSION:
            raise ValueError("unknown ciphertext version")
        nonce, body = blob[1:13], blob[13:]
        return self._aead.decrypt(nonce, body, context).decode()

    def blind_index(self, kind: str, value: str) -> bytes:
        """HMAC-SHA256 over the document type and number: equal documents, equal index."""
        return hmac.digest(self._index_key, f"{kind}:{value}".encode(), hashlib.sha256)

    def blind_indexes(self, documents: Iterable[tuple[str, str]]) -> list[bytes]:
        """`blind_index` of many (type, number) pairs: the same HMAC-SHA256 (RFC 2104), with
        the key's inner and outer hash states computed once rather than per document."""
        key = self._index_key
        if len(key) > 64:  # SHA-256's block size
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key)).copy
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in key)).copy
        out: list[bytes] = []
        for kind, value in documents:
            first = inner()
            first.update(f"{kind}:{value}".encode())
            second = outer()
            second.update(first.digest())
            out.append(second.digest())
        return out

    def encrypt_many(self, plaintexts: list[str], contexts: list[bytes]) -> list[bytes]:
        """`encrypt` of many values, each bound to its own context, with one draw of nonces."""
        nonces = os.urandom(12 * len(plaintexts))
        seal = self._aead.encrypt
        out: list[bytes] = []
        for i, (text, context) in enumerate(zip(plaintexts, contexts, strict=True)):
            nonce = nonces[12 * i : 12 * i + 12]
            out.append(_VERSION + nonce + seal(nonce, text.encode(), context))
        return out


def mask_document(number: str) -> str:
    """Keep the first three and last four characters of long numbers: 110***********123X."""
    if len(number) >= 10:
        return number[:3] + "*" * (len(number) - 7) + number[-4:]
    if len(number) >= 5:
        return number[:1] + "*" * (len(number) - 3) + number[-2:]
    return "*" * len(number)


def mask_phone(number: str | None) -> str | None:
    """138****5678; short or foreign numbers keep only their last two digits."""
    if number is None:
        return None
    if len(number) == 11 and number.isdigit():
        return number[:3] + "****" + number[-4:]
    return "*" * max(0, len(number) - 2) + number[-2:]


def mask_email(address: str | None) -> str | None:
    if address is None:
        return None
    local, _, domain = address.partition("@")
    if not domain:
        return "***"
    # A one-letter local part is not shown: it would be the whole of it.
    return (local[:1] if len(local) > 1 else "") + "***@" + domain
