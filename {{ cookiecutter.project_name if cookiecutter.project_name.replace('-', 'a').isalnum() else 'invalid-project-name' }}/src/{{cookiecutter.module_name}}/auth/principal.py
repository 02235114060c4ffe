"""Who calls: the verified token's issuer, subject, client and scopes."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Principal:
    issuer: str
    subject: str
    client_id: str | None
    scopes: frozenset[str]
    claims: Mapping[str, Any]


def words(value: object) -> set[str]:
    """A claim that is a space-separated string (Entra's `scp`) or a list of strings."""
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str)}
    return set()


def claim_at(claims: Mapping[str, Any], path: str) -> object:
    """`realm_access.roles` -> claims["realm_access"]["roles"]; None where a step is missing."""
    value: object = claims
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def principal_from(claims: Mapping[str, Any], roles_claim: str = "") -> Principal:
    scopes = words(claims.get("scope")) | words(claims.get("scp"))
    if roles_claim:
        scopes |= words(claim_at(claims, roles_claim))
    client_ids = (claims.get(name) for name in ("client_id", "azp", "appid"))
    client_id = next((value for value in client_ids if isinstance(value, str)), None)
    return Principal(
        issuer=claims["iss"],
        subject=claims["sub"],
        client_id=client_id,
        scopes=frozenset(scopes),
        claims=claims,
    )
