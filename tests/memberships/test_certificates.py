"""Membership certificates: issued to the member and staff, verified by the public endpoint and
offline with the JWKS; tampered, expired, foreign-key and revoked certificates are refused."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi.testclient import TestClient
from sqlalchemy import text
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.registry.app import create_app
from services.registry.auth.tokens import KeySet
from services.registry.core import ratelimit
from services.registry.core.clock import ZONE
from services.registry.core.db import transaction
from services.registry.memberships.certificates import AUDIENCE

API = "/api/v1"
VERIFY = f"{API}/certificates/verify"


def _forget_counts(runtime) -> None:  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions) as session:
        session.execute(text("DELETE FROM rate_limit_counter"))


@pytest.fixture(autouse=True)
def fresh_rate_limit(runtime):  # type: ignore[no-untyped-def]
    _forget_counts(runtime)
    yield
    _forget_counts(runtime)


@pytest.fixture
def society(factory):  # type: ignore[no-untyped-def]
    return factory.org(name="中国计算机学会" + uuid.uuid4().hex[:4])


@pytest.fixture
def admin(factory, society):  # type: ignore[no-untyped-def]
    return factory.caller("org_admin", society)


@pytest.fixture
def member(client, factory, society, admin):  # type: ignore[no-untyped-def]
    """A member with a signed-in account and an active membership."""
    person = factory.person(org=society, name="王芳")
    membership = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={
            "person_id": str(person.id),
            "grade": "senior",
            "member_no": "C" + uuid.uuid4().hex[:8].upper(),
            "joined_on": "2020-01-01",
            "valid_until": "2099-12-31",
        },
        headers=admin,
    ).json()
    headers = factory.caller("member", person=person)
    return membership, headers


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def certificate(client, membership, headers) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"{API}/memberships/{membership['id']}/certificate", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def verify(client, token: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.post(VERIFY, json={"token": token})
    assert response.status_code == 200, response.text
    return response.json()


# --- issuing ------------------------------------------------------------------------------------


def test_the_member_downloads_a_signed_certificate_with_a_qr_code(client, member, society) -> None:
    membership, headers = member
    cert = certificate(client, membership, headers)
    header, payload, _ = (b64decode(p) for p in cert["token"].split("."))
    claims = json.loads(payload)
    assert json.loads(header)["alg"] == "RS256"
    assert claims["aud"] == AUDIENCE
    assert claims["jti"] == cert["certificate_id"]
    assert (claims["org"], claims["name"], claims["grade"]) == (society.code, "王芳", "senior")
    assert (claims["member_no"], claims["valid_until"]) == (membership["member_no"], "2099-12-31")
    assert claims["iat"] <= time.time() < claims["exp"]
    assert "id_number" not in claims
    assert "phone" not in claims
    assert cert["qr_svg"].startswith("<svg")
    assert "http://www.w3.org/2000/svg" in cert["qr_svg"]
    link = urlparse(cert["verify_url"])
    assert link.path == VERIFY
    assert parse_qs(link.query) == {"id": [cert["certificate_id"]]}


def test_a_certificate_with_the_longest_names_still_has_a_qr_code(client, factory) -> None:
    society = factory.org(name="中国" + "科" * 196 + "学会")
    person = factory.person(org=society, name="阿" * 200)
    factory.membership(
        society, person, status="active", member_no="L-1", joined_on=date(2020, 1, 1)
    )
    headers = factory.caller("member", person=person)
    membership = {"id": client.get(f"{API}/me", headers=headers).json()["memberships"][0]["id"]}
    cert = certificate(client, membership, headers)
    assert cert["qr_svg"].startswith("<svg")
    response = client.get(
        urlparse(cert["verify_url"]).path, params=parse_qs(urlparse(cert["verify_url"]).query)
    )
    assert response.json()["valid"] is True
    assert response.json()["name"] == "阿" * 200


def test_asking_again_gives_the_same_certificate_until_its_data_change(
    client, member, admin
) -> None:
    membership, headers = member
    first = certificate(client, membership, headers)
    assert certificate(client, membership, admin) == first
    client.patch(
        f"{API}/memberships/{membership['id']}",
        json={"grade": "fellow", "reason": "晋升"},
        headers=admin,
    )
    second = certificate(client, membership, headers)
    assert second["certificate_id"] != first["certificate_id"]
    assert second["grade"] == "fellow"
    assert verify(client, first["token"])["valid"] is True  # the membership is still good


def test_who_may_have_a_certificate(client, factory, member, society) -> None:
    membership, _ = member
    path = f"{API}/memberships/{membership['id']}/certificate"
    someone_else = factory.caller("member", person=factory.person(org=society))
    assert client.get(path, headers=someone_else).status_code == 404
    assert client.get(path, headers=factory.caller("org_admin", factory.org())).status_code == 404
    assert client.get(path, headers=factory.caller("org_staff", society)).status_code == 200
    assert client.get(path).status_code == 401
    assert (
        client.get(
            f"{API}/memberships/{uuid.uuid4()}/certificate", headers=someone_else
        ).status_code
        == 404
    )


def test_no_certificate_for_a_membership_not_in_good_standing(client, member, admin) -> None:
    membership, headers = member
    client.post(
        f"{API}/memberships/{membership['id']}/suspend", json={"reason": "欠费"}, headers=admin
    )
    response = client.get(f"{API}/memberships/{membership['id']}/certificate", headers=headers)
    assert response.status_code == 409
    assert response.json()["type"].endswith("not-in-good-standing")


# --- verifying ----------------------------------------------------------------------------------


def test_verification_follows_the_membership_status_now(client, member, admin, society) -> None:
    membership, headers = member
    token = certificate(client, membership, headers)["token"]
    answer = verify(client, token)
    assert answer["valid"] is True
    assert (answer["status"], answer["org_code"], answer["member_no"]) == (
        "active",
        society.code,
        membership["member_no"],
    )
    assert (answer["grade"], answer["name"], answer["valid_until"]) == (
        "senior",
        "王芳",
        "2099-12-31",
    )
    actions = f"{API}/memberships/{membership['id']}"
    client.post(f"{actions}/suspend", json={"reason": "调查中"}, headers=admin)
    answer = verify(client, token)
    assert (answer["valid"], answer["status"]) == (False, "suspended")
    client.post(f"{actions}/reinstate", json={"reason": "调查结束"}, headers=admin)
    assert verify(client, token)["valid"] is True
    client.post(f"{actions}/terminate", json={"reason": "除名"}, headers=admin)
    answer = verify(client, token)
    assert (answer["valid"], answer["status"]) == (False, "revoked")
    assert "expulsion" in answer["reason"]


def test_the_qr_link_verifies_too(client, member) -> None:
    membership, headers = member
    cert = certificate(client, membership, headers)
    response = client.get(cert["verify_url"].split("localhost:8000", 1)[1])
    assert response.status_code == 200
    assert response.json()["valid"] is True


def _altered(token: str, **changes) -> str:  # type: ignore[no-untyped-def]
    header, payload, signature = token.split(".")
    claims = json.loads(b64decode(payload))
    claims.update(changes)
    return ".".join([header, b64encode(json.dumps(claims).encode()), signature])


def test_a_tampered_certificate_is_invalid(client, member) -> None:
    membership, headers = member
    token = certificate(client, membership, headers)["token"]
    answer = verify(client, _altered(token, grade="fellow"))
    assert (answer["valid"], answer["status"]) == (False, "invalid")
    assert "signature" in answer["reason"]
    assert answer["name"] is None  # nothing from an unverified token is echoed
    for junk in ("not-a-token", "a.b.c", token[:-10]):
        assert verify(client, junk)["valid"] is False


def test_expired_unknown_key_and_unknown_certificate(client, runtime, member) -> None:
    membership, headers = member
    token = certificate(client, membership, headers)["token"]
    claims = json.loads(b64decode(token.split(".")[1]))
    now = int(time.time())
    expired = runtime.keys.sign({**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600})
    answer = verify(client, expired)
    assert (answer["valid"], answer["status"]) == (False, "expired")
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = KeySet(pem).sign(claims)
    answer = verify(client, forged)
    assert (answer["valid"], answer["status"]) == (False, "invalid")
    assert "key" in answer["reason"]
    unknown = runtime.keys.sign({**claims, "jti": str(uuid.uuid4())})
    assert verify(client, unknown)["status"] == "unknown"


def test_access_tokens_and_certificates_are_not_interchangeable(client, factory, member) -> None:
    membership, headers = member
    access = headers["Authorization"].removeprefix("Bearer ")
    answer = verify(client, access)
    assert (answer["valid"], answer["status"]) == (False, "invalid")
    token = certificate(client, membership, headers)["token"]
    assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_verification_is_rate_limited_per_client(client, runtime, member, monkeypatch) -> None:
    monkeypatch.setattr(runtime.settings, "verify_rate_limit", 3)
    for _ in range(3):
        assert client.post(VERIFY, json={"token": "x.y.z"}).status_code == 200
    refused = client.post(VERIFY, json={"token": "x.y.z"})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/too-many-requests")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get(VERIFY, params={"token": "x.y.z"}).status_code == 429


def _deployed_trusted_proxies() -> dict[str, str]:
    """FORWARDED_ALLOW_IPS as deploy/ sets it, by file."""
    root = Path(__file__).resolve().parents[2] / "deploy"
    compose = yaml.safe_load((root / "compose.yaml").read_text())
    configmap = yaml.safe_load((root / "k8s" / "configmap.yaml").read_text())
    default = re.fullmatch(
        r"\$\{FORWARDED_ALLOW_IPS:-(.+)\}", compose["x-registry-env"]["FORWARDED_ALLOW_IPS"]
    )
    assert default is not None
    return {"compose": default[1], "k8s": configmap["data"]["FORWARDED_ALLOW_IPS"]}


@pytest.mark.parametrize("deployment", ["compose", "k8s"])
def test_behind_the_deployed_proxy_an_invented_forwarded_address_does_not_escape_the_limit(
    app, runtime, monkeypatch, deployment
) -> None:
    """The proxy appends the peer it saw to the client's own X-Forwarded-For: the client is
    the last address that is not the proxy's, whatever the client wrote before it."""
    trusted = _deployed_trusted_proxies()[deployment]
    assert trusted != "*"
    network = ipaddress.ip_network(trusted.split(",")[0].strip())
    proxy = str(network[0] if network.num_addresses == 1 else network[1])
    monkeypatch.setattr(runtime.settings, "verify_rate_limit", 3)
    with transaction(runtime.sessions) as session:
        session.execute(text("DELETE FROM rate_limit_counter"))
    proxied = ProxyHeadersMiddleware(app, trusted_hosts=trusted)
    with TestClient(proxied, client=(proxy, 40000)) as client:
        statuses = [
            client.post(
                VERIFY,
                json={"token": "x.y.z"},
                headers={"X-Forwarded-For": f"10.9.0.{i + 1}, 203.0.113.7"},
            ).status_code
            for i in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]


def test_api_processes_share_the_verification_limit(settings, database_url, runtime) -> None:
    """Two app instances (as two API workers) over one database: one limit, not two."""
    limited = settings.model_copy(update={"verify_rate_limit": 3})
    first, second = create_app(limited, database_url), create_app(limited, database_url)
    try:
        a, b = TestClient(first), TestClient(second)
        assert a.post(VERIFY, json={"token": "x.y.z"}).status_code == 200
        assert b.post(VERIFY, json={"token": "x.y.z"}).status_code == 200
        assert a.post(VERIFY, json={"token": "x.y.z"}).status_code == 200
        assert b.post(VERIFY, json={"token": "x.y.z"}).status_code == 429
        assert a.post(VERIFY, json={"token": "x.y.z"}).status_code == 429
    finally:
        for app in (first, second):
            app.state.runtime.close()


def test_counters_of_ended_windows_are_deleted_by_later_hits(runtime) -> None:
    with transaction(runtime.read_sessions) as session:
        session.execute(
            text(
                "INSERT INTO rate_limit_counter VALUES ('certificates-verify', 'old', now()"
                " - interval '2 minutes', now() - interval '1 minute', 7)"
            )
        )
        assert (
            ratelimit.hit(session, name="certificates-verify", client="a", limit=2, window=60)
            is None
        )
        assert (
            ratelimit.hit(session, name="certificates-verify", client="a", limit=2, window=60)
            is None
        )
        assert ratelimit.hit(session, name="certificates-verify", client="a", limit=2, window=60)
        rows = session.execute(text("SELECT client_key, hits FROM rate_limit_counter")).all()
    assert [tuple(r) for r in rows] == [("a", 3)]


def test_verify_needs_a_token(client) -> None:
    response = client.post(VERIFY, json={})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "token"


@pytest.mark.parametrize("params", [{}, {"id": str(uuid.uuid4()), "token": "a.b.c"}])
def test_the_link_names_either_a_certificate_or_a_token(client, params) -> None:
    response = client.get(VERIFY, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "id"


def test_a_link_to_a_certificate_never_issued_is_unknown(client) -> None:
    answer = client.get(VERIFY, params={"id": str(uuid.uuid4())}).json()
    assert (answer["valid"], answer["status"]) == (False, "unknown")


def test_a_link_verifies_the_stored_token_and_the_membership_now(client, member, admin) -> None:
    membership, headers = member
    cert = certificate(client, membership, headers)
    params = {"id": cert["certificate_id"]}
    assert client.get(VERIFY, params=params).json()["valid"] is True
    suspended = client.post(
        f"{API}/memberships/{membership['id']}/suspend", json={"reason": "unpaid"}, headers=admin
    )
    assert suspended.status_code == 200, suspended.text
    answer = client.get(VERIFY, params=params).json()
    assert (answer["valid"], answer["status"]) == (False, "suspended")


# --- offline, with nothing but the JWKS ---------------------------------------------------------


def test_a_third_party_verifies_offline_with_the_jwks(client, member, settings) -> None:
    membership, headers = member
    token = certificate(client, membership, headers)["token"]
    jwks = client.get("/.well-known/jwks.json").json()

    def offline(token: str) -> dict | None:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(b64decode(header_b64))
        keys = {k["kid"]: k for k in jwks["keys"]}
        if header.get("alg") != "RS256" or header.get("kid") not in keys:
            return None
        jwk = keys[header["kid"]]
        public = rsa.RSAPublicNumbers(
            int.from_bytes(b64decode(jwk["e"]), "big"), int.from_bytes(b64decode(jwk["n"]), "big")
        ).public_key()
        try:
            public.verify(
                b64decode(signature_b64),
                f"{header_b64}.{payload_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return None
        claims = json.loads(b64decode(payload_b64))
        if claims["aud"] != AUDIENCE or claims["iss"] != settings.issuer:
            return None
        if not claims["nbf"] <= time.time() < claims["exp"]:
            return None
        return claims

    claims = offline(token)
    assert claims is not None
    assert (claims["member_no"], claims["valid_until"]) == (membership["member_no"], "2099-12-31")
    assert offline(_altered(token, valid_until=date(2199, 1, 1).isoformat())) is None


# --- key rotation -------------------------------------------------------------------------------


def test_after_a_key_rotation_the_member_gets_a_certificate_signed_with_the_new_key(
    client, runtime, member, monkeypatch
) -> None:
    """The stored certificate is handed out again only while its key still signs: once the key
    is retired, asking again gives one under the new key, which the JWKS keeps publishing
    after the retired key is finally dropped."""
    membership, headers = member
    before = certificate(client, membership, headers)
    retired = (runtime.settings.keys_dir / "signing-key.pem").read_bytes()
    retired_public = (
        serialization.load_pem_private_key(retired, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    rotated = KeySet(new_key, [retired_public])
    monkeypatch.setattr(runtime, "keys", rotated)

    assert verify(client, before["token"])["valid"] is True  # the retired key is still accepted
    after = certificate(client, membership, headers)
    assert after["certificate_id"] != before["certificate_id"]
    assert json.loads(b64decode(after["token"].split(".")[0]))["kid"] == rotated.kid
    assert certificate(client, membership, headers) == after  # and it is kept from then on
    monkeypatch.setattr(runtime, "keys", KeySet(new_key))  # the retired key is dropped
    assert verify(client, after["token"])["valid"] is True
    assert verify(client, before["token"])["status"] == "invalid"


def test_on_the_last_day_of_a_membership_asking_again_gives_the_same_certificate(
    client, factory, society, admin, db
) -> None:
    """A certificate cannot outlast its membership's end, so the one issued on the last day
    is the one to keep: asking again gives it, not a new one each time."""
    person = factory.person(org=society)
    today = datetime.now(ZONE).date()
    membership = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={"person_id": str(person.id), "joined_on": "2020-01-01", "valid_until": str(today)},
        headers=admin,
    ).json()
    assert membership["status"] == "active"
    headers = factory.caller("member", person=person)
    first = certificate(client, membership, headers)
    assert certificate(client, membership, headers) == first
    stored = db.execute(
        text("SELECT count(*) FROM membership_certificate WHERE membership_id = :m"),
        {"m": membership["id"]},
    ).scalar_one()
    assert stored == 1


def _set_society_status(client, factory, society, status: str) -> None:  # type: ignore[no-untyped-def]
    response = client.patch(
        f"{API}/orgs/{society.code}",
        json={"status": status, "reason": "动态调整"},
        headers=factory.caller("platform_admin"),
    )
    assert response.status_code == 200, response.text


def test_a_society_that_exited_certifies_no_one(client, factory, member, society) -> None:
    membership, headers = member
    token = certificate(client, membership, headers)["token"]
    _set_society_status(client, factory, society, "exited")
    answer = verify(client, token)
    assert answer["valid"] is False
    assert "exited" in answer["reason"]
    response = client.get(f"{API}/memberships/{membership['id']}/certificate", headers=headers)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("society-closed")


def test_a_suspended_society_still_certifies_its_members(client, factory, member, society) -> None:
    membership, headers = member
    token = certificate(client, membership, headers)["token"]
    _set_society_status(client, factory, society, "suspended")
    assert verify(client, token)["valid"] is True
    assert certificate(client, membership, headers)["token"] == token


def test_a_certificate_not_valid_yet_is_said_to_be_so(client, runtime, member) -> None:
    membership, headers = member
    token = certificate(client, membership, headers)["token"]
    claims = json.loads(b64decode(token.split(".")[1]))
    now = int(time.time())
    early = runtime.keys.sign({**claims, "nbf": now + 3600})
    answer = verify(client, early)
    assert (answer["valid"], answer["status"]) == (False, "invalid")
    assert "not valid yet" in answer["reason"]
