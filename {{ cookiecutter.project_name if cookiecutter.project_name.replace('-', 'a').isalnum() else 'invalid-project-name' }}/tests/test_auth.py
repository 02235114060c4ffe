"""Every way a bearer token is refused, and the answers: 401 with the RFC 6750 challenge, 403
for a missing scope, both in the error shape; the accepted token's principal."""

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, FastAPI, status
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.module_name }}.auth import PrincipalDep, require_scopes
from {{ cookiecutter.module_name }}.auth.principal import principal_from
from {{ cookiecutter.module_name }}.core.logging import ACCESS_LOGGER
from tests.issuer import AUDIENCE, Issuer

REALM = 'Bearer realm="{{ cookiecutter.project_name }}"'


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncClient:
    """A client without a token, on the app with one protected route, /whoami."""
    router = APIRouter()

    @router.get("/whoami", dependencies=[require_scopes("things:read")])
    async def whoami(principal: PrincipalDep) -> dict[str, object]:
        return {
            "issuer": principal.issuer,
            "subject": principal.subject,
            "client_id": principal.client_id,
            "scopes": sorted(principal.scopes),
        }

    app.include_router(router)
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def call(client: AsyncClient, token: str | None) -> tuple[int, str, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = await client.get("/whoami", headers=headers)
    return response.status_code, response.headers.get("www-authenticate", ""), response.json()


async def test_a_valid_token_gives_the_route_its_principal(
    anonymous: AsyncClient, issuer: Issuer
) -> None:
    code, _, body = await call(anonymous, issuer.token(["things:read", "other"]))
    assert code == status.HTTP_200_OK
    assert body == {
        "issuer": issuer.url,
        "subject": "user-1",
        "client_id": "test-client",
        "scopes": ["other", "things:read"],
    }


async def test_an_ec_token_is_accepted(anonymous: AsyncClient, issuer: Issuer) -> None:
    code, _, _ = await call(anonymous, issuer.token(["things:read"], kid=issuer.ec_kid))
    assert code == status.HTTP_200_OK


async def test_no_token_answers_401_with_the_realm_and_no_error_code(
    anonymous: AsyncClient,
) -> None:
    code, challenge, body = await call(anonymous, None)
    assert code == status.HTTP_401_UNAUTHORIZED
    assert challenge == REALM
    assert body == {"error": {"code": "unauthorized", "message": "A bearer token is required."}}


async def test_another_scheme_counts_as_no_token(anonymous: AsyncClient) -> None:
    response = await anonymous.get("/whoami", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == status.HTTP_401_UNAUTHORIZED
    assert response.headers["www-authenticate"] == REALM


def expired(issuer: Issuer, seconds_ago: int) -> str:
    now = int(time.time())
    return issuer.token(["things:read"], iat=now - 600, exp=now - seconds_ago)


def tampered(issuer: Issuer) -> str:
    header, payload, signature = issuer.token(["things:read"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "admin"
    return ".".join([header, b64(json.dumps(claims).encode()), signature])


def hs256_with_the_public_key(issuer: Issuer) -> str:
    """The algorithm-confusion attack: HMAC keyed with the RSA public key, which is public."""
    public_key = issuer.keys[issuer.rsa_kid].public_key()
    public = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": issuer.rsa_kid}).encode())
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": "x", "iat": now, "exp": now + 60}
    payload = b64(json.dumps({**claims, "scope": "things:read"}).encode())
    signature = hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def unsigned(issuer: Issuer) -> str:
    now = int(time.time())
    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": "x", "iat": now, "exp": now + 60}
    return jwt.encode({**claims, "scope": "things:read"}, "", algorithm="none")


REFUSED: dict[str, Callable[[Issuer], str]] = {
    "malformed": lambda _issuer: "not-a-jwt",
    "expired-beyond-leeway": lambda issuer: expired(issuer, 60),
    "not-yet-valid": lambda issuer: issuer.token(["things:read"], nbf=int(time.time()) + 120),
    "issued-in-the-future": lambda issuer: issuer.token(
        ["things:read"], iat=int(time.time()) + 120
    ),
    "wrong-issuer": lambda issuer: issuer.token(["things:read"], iss="https://elsewhere.example"),
    "wrong-audience": lambda issuer: issuer.token(["things:read"], aud="another-service"),
    "no-subject": lambda issuer: issuer.token(["things:read"], sub=None),
    "alg-none": unsigned,
    "hs256-with-the-public-key": hs256_with_the_public_key,
    "tampered-payload": tampered,
    "unknown-kid": lambda issuer: issuer.token(["things:read"], header_kid="not-published"),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_a_bad_token_answers_401_invalid_token(
    anonymous: AsyncClient, issuer: Issuer, case: str
) -> None:
    code, challenge, body = await call(anonymous, REFUSED[case](issuer))
    assert code == status.HTTP_401_UNAUTHORIZED
    assert challenge.startswith(REALM + ', error="invalid_token", error_description="')
    assert body["error"]["code"] == "unauthorized"  # type: ignore[index]


async def test_expired_within_the_leeway_is_accepted(
    anonymous: AsyncClient, issuer: Issuer
) -> None:
    code, _, _ = await call(anonymous, expired(issuer, 10))  # leeway: 30 s
    assert code == status.HTTP_200_OK


async def test_a_missing_scope_answers_403_insufficient_scope(
    anonymous: AsyncClient, issuer: Issuer
) -> None:
    code, challenge, body = await call(anonymous, issuer.token(["things:write"]))
    assert code == status.HTTP_403_FORBIDDEN
    assert challenge == REALM + ', error="insufficient_scope", scope="things:read"'
    assert body == {
        "error": {"code": "forbidden", "message": "The token lacks the scope things:read."}
    }


async def test_the_access_line_names_the_subject_never_the_token(
    anonymous: AsyncClient, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.token(["things:read"])
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        code, _, _ = await call(anonymous, token)
    assert code == status.HTTP_200_OK
    (line,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert (line.subject, line.client_id) == ("user-1", "test-client")  # type: ignore[attr-defined]
    assert token not in caplog.text
    assert token.split(".")[2] not in str(vars(line))


@pytest.mark.parametrize(
    ("claims", "roles_claim", "scopes"),
    [
        ({"scope": "a b"}, "", {"a", "b"}),
        ({"scp": "a b"}, "", {"a", "b"}),  # Entra: a space-separated string
        ({"scp": ["a", "b"]}, "", {"a", "b"}),
        ({"scope": ["a"], "scp": "b"}, "", {"a", "b"}),
        ({"roles": ["orders:read"]}, "roles", {"orders:read"}),  # Entra client credentials
        ({"realm_access": {"roles": ["x"]}}, "realm_access.roles", {"x"}),  # Keycloak
        ({"realm_access": "odd"}, "realm_access.roles", set()),
        ({"scope": 7}, "", set()),
    ],
)
def test_scopes_come_from_scope_scp_and_the_roles_claim(
    claims: dict[str, object], roles_claim: str, scopes: set[str]
) -> None:
    principal = principal_from({"iss": "i", "sub": "s", **claims}, roles_claim)
    assert principal.scopes == scopes
