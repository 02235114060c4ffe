"""Liveness (no I/O) and readiness (the database answers, at the revision the code expects)."""

import asyncio
from typing import Literal

from fastapi import FastAPI, Request, Response, status
from pydantic import BaseModel

{% if cookiecutter.auth == "oidc" -%}
from {{ cookiecutter.module_name }}.auth import PUBLIC
{% endif -%}
from {{ cookiecutter.module_name }}.db.migrations import database_revision
from {{ cookiecutter.module_name }}.db.missing_database import is_missing_database
from {{ cookiecutter.module_name }}.db.session import DatabaseDep


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


# The liveness answer never changes: encode it once instead of validating a model per probe.
LIVENESS_BODY = Liveness().model_dump_json().encode()


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    reason: str | None = None
    database_revision: str | None = None
    code_revision: str | None = None


async def liveness() -> Response:
    return Response(LIVENESS_BODY, media_type="application/json")


async def readiness(request: Request, database: DatabaseDep, response: Response) -> Readiness:
    wait_seconds: float = request.app.state.settings.readiness_timeout_seconds
    # Read from the migration scripts in a thread the lifespan started (main.py).
    head: asyncio.Task[str | None] = request.app.state.expected_revision
    expected: str | None = None
    try:
        # One bound for all of it, the first probe's wait for the head included.
        async with asyncio.timeout(wait_seconds):
            expected = await asyncio.shield(head)  # a probe that gives up leaves it running
            async with database.session() as session:
                current = await database_revision(session)
    except TimeoutError:
        reason = f"database did not answer within {wait_seconds:g} s"
        if not head.done():
            reason = f"the code's migration head was not read within {wait_seconds:g} s"
        current = None
    except Exception as exc:  # any failure means "not ready"
        reason = f"database error: {type(exc).__name__}"
        if is_missing_database(exc):
            reason = "the database does not exist"
        current = None
    else:
        if expected is None:
            reason = "the code's migration head is unknown: is ALEMBIC_CONFIG right?"
        elif current != expected:
            reason = f"database schema is at {current}, the code expects {expected}"
        else:
            return Readiness(status="ok", database_revision=current, code_revision=expected)
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(
        status="unavailable", reason=reason, database_revision=current, code_revision=expected
    )


def add_probe_routes(app: FastAPI) -> None:
    """On the app's own router, not through `include_router`: FastAPI matches an included router
    in a second layer on every request, and probes are the requests a service answers most
    (docs/decisions/0016-request-cost-and-start-up.md)."""
    app.add_api_route(
        "/healthz",
        liveness,
        methods=["GET"],
        tags=["health"],
{%- if cookiecutter.auth == "oidc" %}
        dependencies=[PUBLIC],
{%- endif %}
        responses={status.HTTP_200_OK: {"model": Liveness, "description": "The process is up"}},
    )
    app.add_api_route(
        "/readyz",
        readiness,
        methods=["GET"],
        tags=["health"],
{%- if cookiecutter.auth == "oidc" %}
        dependencies=[PUBLIC],
{%- endif %}
        responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness}},
    )
