"""The dependencies routes use: secure by default, one visible line to opt out.

`authenticate` is an app-level dependency (main.py): it verifies the bearer token of every
request to a route that does not carry `PUBLIC`, so a router a team adds is protected without
them doing anything. `require_scopes(...)` declares what a route needs (and the security
scheme in OpenAPI); `PrincipalDep` hands the route who calls.
"""

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from opentelemetry import trace

from {{ cookiecutter.module_name }}.api.errors import ErrorResponse
from {{ cookiecutter.module_name }}.auth.keys import ProviderUnavailable
from {{ cookiecutter.module_name }}.auth.principal import Principal
from {{ cookiecutter.module_name }}.auth.verify import InvalidToken, TokenVerifier

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "model": ErrorResponse,
        "description": "No token, or one that is malformed, expired or not for this service",
    },
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorResponse,
        "description": "The token lacks a scope this operation needs",
    },
}


async def public() -> None:  # async: FastAPI runs a plain `def` in its thread pool
    """The marker of a route anyone may call: `dependencies=[PUBLIC]`."""


PUBLIC = Depends(public)


def is_public(route: object) -> bool:
    return isinstance(route, APIRoute) and any(
        dependency.call is public for dependency in route.dependant.dependencies
    )


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(realm: str, **params: str) -> dict[str, str]:
    """RFC 6750 §3: a request with no token gets the realm alone, without an error code."""
    parts = [f"realm={quoted(realm)}", *(f"{name}={quoted(v)}" for name, v in params.items())]
    return {"WWW-Authenticate": "Bearer " + ", ".join(parts)}


def token_required(realm: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="A bearer token is required.",
        headers=challenge(realm),
    )


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def authenticate(request: Request) -> None:
    if is_public(request.scope.get("route")):
        return
    verifier: TokenVerifier = request.app.state.token_verifier
    token = bearer_token(request)
    if token is None:
        raise token_required(verifier.realm)
    try:
        principal = await verifier.verify(token)
    except InvalidToken as exc:
        description = str(exc)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"The bearer token is not valid: {description}.",
            headers=challenge(verifier.realm, error="invalid_token", error_description=description),
        ) from exc
    except ProviderUnavailable as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="The identity provider's keys are not available yet; try again.",
            headers={"Retry-After": str(exc.retry_after_seconds)},
        ) from exc
    # The access line (api/request_id.py) and the server span carry who called, never the token.
    request.state.principal = principal
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("user.id", principal.subject)
        if principal.client_id:
            span.set_attribute("oauth.client_id", principal.client_id)


class BearerPrincipal(SecurityBase):
    """Who calls, as `authenticate` verified them, held to the scopes the route asks for. As a
    security scheme it also declares the bearer scheme in OpenAPI (Authorize in /docs), so each
    request solves one dependency here instead of two (record 0028)."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="JWT",
            description="An access token from the identity provider (OIDC_ISSUER).",
        )
        self.scheme_name = "HTTPBearer"

    async def __call__(self, request: Request, security_scopes: SecurityScopes) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        verifier: TokenVerifier = request.app.state.token_verifier
        if principal is None:  # a PUBLIC route that also asks for the caller
            raise token_required(verifier.realm)
        missing = [scope for scope in security_scopes.scopes if scope not in principal.scopes]
        if missing:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"The token lacks the scope {' '.join(missing)}.",
                headers=challenge(
                    verifier.realm,
                    error="insufficient_scope",
                    scope=" ".join(security_scopes.scopes),
                ),
            )
        return principal


current_principal = BearerPrincipal()


PrincipalDep = Annotated[Principal, Security(current_principal)]


def require_scopes(*scopes: str) -> Any:  # a `fastapi.params.Security`
    """`dependencies=[require_scopes("orders:write")]`: a token with every one of these scopes."""
    return Security(current_principal, scopes=list(scopes))
