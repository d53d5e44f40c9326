"""Access tokens: only a genuine, current RS256 access token of this service opens a route.

Forged tokens are built by hand (base64url JSON and a signature from `cryptography` or
`hmac`), so the test does not share a JOSE library's assumptions with the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import update

from services.registry.auth import tokens
from services.registry.auth.models import Account
from services.registry.core.db import transaction

PROTECTED = "/api/v1/people"
Signer = Callable[[bytes], bytes]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def compact(header: dict[str, Any], claims: dict[str, Any], sign: Signer) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def rs256(key: rsa.RSAPrivateKey) -> Signer:
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def hs256(secret: bytes) -> Signer:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthorized(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["status"] == 401
    assert body["type"].endswith("/unauthorized")


def public_key_from_jwk(entry: dict[str, str]) -> rsa.RSAPublicKey:
    n = int.from_bytes(b64url_decode(entry["n"]), "big")
    e = int.from_bytes(b64url_decode(entry["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


@pytest.fixture(scope="module")
def service_key(settings) -> rsa.RSAPrivateKey:  # type: ignore[no-untyped-def]
    """The private key the running service signs with, read from where it keeps it."""
    if settings.signing_key:
        pem = settings.signing_key.encode()
    elif settings.signing_key_file:
        pem = settings.signing_key_file.read_bytes()
    else:
        pem = (settings.keys_dir / "signing-key.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.fixture
def admin(factory) -> Account:  # type: ignore[no-untyped-def]
    """A platform administrator: any refusal below is the token's fault, not a permission's."""
    return factory.account("platform_admin")


@pytest.fixture
def kid(runtime) -> str:  # type: ignore[no-untyped-def]
    return runtime.keys.kid


def claims_for(runtime, account_id: uuid.UUID, **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The claims the service puts in an access token, with `changes` applied (None removes)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": runtime.access_tokens.issuer,
        "aud": runtime.access_tokens.audience,
        "sub": str(account_id),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "token_use": "access",
        "kind": "user",
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def test_hand_built_token_signed_with_the_service_key_is_accepted(
    client, runtime, admin, kid, service_key
) -> None:
    """The control for every forgery below: the same construction, done honestly, works."""
    token = compact(
        {"alg": "RS256", "typ": "JWT", "kid": kid},
        claims_for(runtime, admin.id),
        rs256(service_key),
    )
    assert client.get(PROTECTED, headers=bearer(token)).status_code == 200


def test_missing_authorization_header_is_rejected(client) -> None:
    assert_unauthorized(client.get(PROTECTED))


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc.def.ghi", "bearer"],
)
def test_authorization_header_without_a_bearer_token_is_rejected(client, authorization) -> None:
    assert_unauthorized(client.get(PROTECTED, headers={"Authorization": authorization}))


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "a.b.c",
        "a.b",
        "a.b.c.d.e",
        "...",
        segment({"alg": "RS256"}) + "." + b64url(b"[1, 2]") + ".c2ln",
        b64url(b"[1]") + "." + segment({}) + ".c2ln",
        b64url(b"\xff\xfe") + "." + segment({}) + ".c2ln",
        segment({"alg": ["RS256"], "kid": "x"}) + "." + segment({}) + ".c2ln",
        "x" * 5000,
    ],
    ids=[
        "plain-word",
        "three-garbage-segments",
        "two-segments",
        "five-segments",
        "empty-segments",
        "payload-not-an-object",
        "header-not-an-object",
        "header-not-utf8",
        "alg-not-a-string",
        "very-long",
    ],
)
def test_malformed_token_is_rejected(client, token) -> None:
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_token_is_rejected(client, runtime, admin, kid, alg) -> None:
    claims = claims_for(runtime, admin.id)
    unsigned = f"{segment({'alg': alg, 'typ': 'JWT', 'kid': kid})}.{segment(claims)}."
    assert_unauthorized(client.get(PROTECTED, headers=bearer(unsigned)))


@pytest.mark.parametrize(
    "pem_format",
    [serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1],
    ids=["spki", "pkcs1"],
)
@pytest.mark.parametrize("trailing_newline", [True, False], ids=["pem", "pem-stripped"])
def test_hs256_token_keyed_with_public_key_is_rejected(
    client, runtime, admin, kid, pem_format, trailing_newline
) -> None:
    """The algorithm-confusion attack: HMAC over the token with the published RSA key as secret."""
    jwks = client.get("/.well-known/jwks.json").json()
    entry = next(k for k in jwks["keys"] if k["kid"] == kid)
    pem = public_key_from_jwk(entry).public_bytes(serialization.Encoding.PEM, pem_format)
    secret = pem if trailing_newline else pem.strip()
    forged = compact(
        {"alg": "HS256", "typ": "JWT", "kid": kid}, claims_for(runtime, admin.id), hs256(secret)
    )
    assert_unauthorized(client.get(PROTECTED, headers=bearer(forged)))


def test_tampered_payload_is_rejected(client, factory, admin) -> None:
    """A reviewer's genuine token with its subject swapped for an administrator's."""
    reviewer = factory.account("reviewer")
    genuine = factory.token(reviewer)
    assert client.get(PROTECTED, headers=bearer(genuine)).status_code == 403
    header, payload, signature = genuine.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["sub"] = str(admin.id)
    forged = f"{header}.{segment(claims)}.{signature}"
    assert_unauthorized(client.get(PROTECTED, headers=bearer(forged)))


def test_tampered_header_is_rejected(client, factory, admin) -> None:
    """Adding a header member (here `typ`) changes the signing input and breaks the signature."""
    genuine = factory.token(admin)
    header, payload, signature = genuine.split(".")
    fields = json.loads(b64url_decode(header))
    fields["typ"] = "at+jwt"
    assert_unauthorized(
        client.get(PROTECTED, headers=bearer(f"{segment(fields)}.{payload}.{signature}"))
    )


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"iat": -3600, "nbf": -3600, "exp": -60}, "expired"),
        ({"iat": -3600, "nbf": -3600, "exp": -1}, "expired-just-now"),
        ({"nbf": 600, "exp": 900}, "not-yet-valid"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_token_outside_its_validity_window_is_rejected(
    client, runtime, admin, kid, service_key, changes, why
) -> None:
    now = int(time.time())
    claims = claims_for(runtime, admin.id, **{k: now + v for k, v in changes.items()})
    token = compact({"alg": "RS256", "kid": kid}, claims, rs256(service_key))
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize(
    "audience", ["another-api", "", ["another-api"], "registry-api-extra"], ids=repr
)
def test_token_for_another_audience_is_rejected(
    client, runtime, admin, kid, service_key, audience
) -> None:
    claims = claims_for(runtime, admin.id, aud=audience)
    token = compact({"alg": "RS256", "kid": kid}, claims, rs256(service_key))
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize("issuer", ["https://evil.example", "", "http://localhost:8000/"])
def test_token_from_another_issuer_is_rejected(
    client, runtime, admin, kid, service_key, issuer
) -> None:
    claims = claims_for(runtime, admin.id, iss=issuer)
    token = compact({"alg": "RS256", "kid": kid}, claims, rs256(service_key))
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize(
    "header_kid", ["unknown-key", "", None], ids=["unknown", "empty", "absent"]
)
def test_token_with_unknown_kid_is_rejected(
    client, runtime, admin, service_key, header_kid
) -> None:
    header: dict[str, Any] = {"alg": "RS256"}
    if header_kid is not None:
        header["kid"] = header_kid
    token = compact(header, claims_for(runtime, admin.id), rs256(service_key))
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


def test_token_signed_by_another_rsa_key_with_the_same_kid_is_rejected(
    client, runtime, admin, kid
) -> None:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = compact({"alg": "RS256", "kid": kid}, claims_for(runtime, admin.id), rs256(impostor))
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "ES256", "HS256"])
def test_token_declaring_another_algorithm_is_rejected(
    client, runtime, admin, kid, service_key, alg
) -> None:
    """Only RS256 is accepted, even with a signature the key could have made under another name."""
    token = compact({"alg": alg, "kid": kid}, claims_for(runtime, admin.id), rs256(service_key))
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub"])
def test_token_missing_a_required_claim_is_rejected(
    client, runtime, admin, kid, service_key, claim
) -> None:
    token = compact(
        {"alg": "RS256", "kid": kid},
        claims_for(runtime, admin.id, **{claim: None}),
        rs256(service_key),
    )
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize("token_use", ["refresh", "certificate", "", None], ids=repr)
def test_token_that_is_not_an_access_token_is_rejected(
    client, runtime, admin, kid, service_key, token_use
) -> None:
    """The same key signs membership certificates; only `token_use: access` opens the API."""
    claims = claims_for(runtime, admin.id, token_use=token_use)
    if token_use is None:
        claims.pop("token_use", None)
    token = compact({"alg": "RS256", "kid": kid}, claims, rs256(service_key))
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize(
    "changes",
    [
        {"iat": "yesterday"},
        {"exp": "later"},
        {"sub": 12345},
        {"sub": "not-a-uuid"},
        {"sub": str(uuid.UUID(int=0))},
    ],
    ids=[
        "iat-not-a-number",
        "exp-not-a-number",
        "sub-not-a-string",
        "sub-not-a-uuid",
        "sub-nobody",
    ],
)
def test_genuinely_signed_token_with_bad_claims_is_rejected(
    client, runtime, admin, kid, service_key, changes
) -> None:
    token = compact(
        {"alg": "RS256", "kid": kid}, claims_for(runtime, admin.id, **changes), rs256(service_key)
    )
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


@pytest.mark.parametrize("claim", ["iat", "exp", "nbf"])
@pytest.mark.parametrize("value", [[1], {"t": 1}, True], ids=["list", "object", "bool"])
def test_time_claim_of_the_wrong_json_type_is_rejected_not_a_server_error(
    client, runtime, admin, kid, service_key, claim, value
) -> None:
    token = compact(
        {"alg": "RS256", "kid": kid},
        claims_for(runtime, admin.id, **{claim: value}),
        rs256(service_key),
    )
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


def test_null_time_claim_is_rejected_not_a_server_error(
    client, runtime, admin, kid, service_key
) -> None:
    claims = claims_for(runtime, admin.id)
    claims["iat"] = None
    token = compact({"alg": "RS256", "kid": kid}, claims, rs256(service_key))
    assert_unauthorized(client.get(PROTECTED, headers=bearer(token)))


def test_valid_token_of_a_disabled_account_is_rejected(client, factory, runtime) -> None:
    account = factory.account("platform_admin")
    headers = factory.headers(account)
    assert client.get(PROTECTED, headers=headers).status_code == 200
    with transaction(runtime.sessions) as session:
        session.execute(update(Account).where(Account.id == account.id).values(is_active=False))
    assert_unauthorized(client.get(PROTECTED, headers=headers))


def test_jwks_publishes_an_rs256_signing_key_that_verifies_issued_tokens(client, factory) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys, "the key set is empty"
    for entry in keys:
        assert entry["kty"] == "RSA"
        assert entry["alg"] == "RS256"
        assert entry["use"] == "sig"
        assert entry["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & entry.keys(), "private members published"

    token = factory.token(factory.account("member"))
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "RS256"
    entry = next(k for k in keys if k["kid"] == header["kid"])
    public = public_key_from_jwk(entry)
    assert public.key_size >= 2048
    signing_input = f"{header_b64}.{payload_b64}".encode()
    signature = b64url_decode(signature_b64)
    public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public.verify(signature, signing_input + b"x", padding.PKCS1v15(), hashes.SHA256())
    claims = json.loads(b64url_decode(payload_b64))
    assert claims["token_use"] == "access"
    assert claims["exp"] - claims["iat"] == 900


def test_a_token_signed_by_a_replica_whose_clock_runs_ahead_is_accepted_at_once(
    runtime, factory, monkeypatch
) -> None:
    account = factory.account("member")
    ahead = time.time() + 30
    monkeypatch.setattr(tokens.time, "time", lambda: ahead)
    token = runtime.access_tokens.issue(account.id, kind="user")
    monkeypatch.undo()
    assert runtime.access_tokens.verify(token) == account.id
