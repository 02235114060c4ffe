"""Secure by default: every route of the app either needs a scope or is marked PUBLIC, and its
OpenAPI operation says so. A route that has neither fails here, with its path."""

from collections.abc import Iterator

from fastapi import APIRouter, FastAPI, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from httpx import ASGITransport, AsyncClient

from {{ cookiecutter.module_name }}.auth import AUTH_RESPONSES, require_scopes
from {{ cookiecutter.module_name }}.auth.dependencies import current_principal, is_public
from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.main import create_app

# FastAPI's own documentation routes: served only with API_DOCS on, and public so that
# Authorize in /docs can work.
DOCUMENTATION = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from dependants(child)


def unsecured(app: FastAPI) -> list[str]:
    """Every route (included routers' too, which FastAPI lists as one entry each) that has
    neither a required scope nor the PUBLIC marker."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            if context.path not in DOCUMENTATION:
                found.append(f"{context.path} (not an API route: no authentication at all)")
            continue
        scopes = [
            scope
            for dependant in dependants(context.dependant)
            if dependant.call is current_principal
            for scope in dependant.own_oauth_scopes or []
        ]
        if not scopes and not is_public(route):
            found.append(f"{sorted(route.methods or ())} {context.path}")
    return found


def test_every_route_needs_a_scope_or_is_public(settings: Settings) -> None:
    assert unsecured(create_app(settings)) == []


def test_a_route_without_either_is_found(settings: Settings) -> None:
    app = create_app(settings)
    router = APIRouter(prefix="/reports")

    @router.get("")
    async def reports() -> list[str]:
        return []

    app.include_router(router)
    assert unsecured(app) == ["['GET'] /reports"]


async def test_a_router_a_team_adds_is_protected_without_doing_anything(app: FastAPI) -> None:
    router = APIRouter(prefix="/reports")

    @router.get("")
    async def reports() -> list[str]:
        return []

    app.include_router(router)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        assert (await http.get("/reports")).status_code == status.HTTP_401_UNAUTHORIZED
        assert (await http.get("/healthz")).status_code == status.HTTP_200_OK


def test_openapi_declares_the_scheme_and_its_answers_on_each_protected_operation(
    settings: Settings,
) -> None:
    app = create_app(settings)
    # One protected operation whatever the options, written as "Adding a resource" writes one.
    router = APIRouter(prefix="/reports", responses=AUTH_RESPONSES)

    @router.get("", dependencies=[require_scopes("reports:read")])
    async def reports() -> list[str]:
        return []

    app.include_router(router)
    document = app.openapi()
    assert "/reports" in document["paths"]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz"):
                assert "security" not in operation, path
                continue
            assert operation["security"], f"{method} {path}"
            assert {"401", "403"} <= operation["responses"].keys(), f"{method} {path}"
