"""Liveness (no I/O) and readiness (the database answers, at the revision the code expects)."""

import asyncio
from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from {{ cookiecutter.module_name }}.db.migrations import database_revision
from {{ cookiecutter.module_name }}.db.session import EngineDep

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    reason: str | None = None
    database_revision: str | None = None
    code_revision: str | None = None


@router.get("/healthz")
async def liveness() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness}},
)
async def readiness(request: Request, engine: EngineDep, response: Response) -> Readiness:
    wait_seconds: float = request.app.state.settings.readiness_timeout_seconds
    expected: str | None = request.app.state.expected_revision
    try:
        async with asyncio.timeout(wait_seconds), engine.connect() as connection:
            current = await database_revision(connection)
    except TimeoutError:
        reason = f"database did not answer within {wait_seconds:g} s"
        current = None
    except Exception as exc:  # any failure means "not ready"
        reason = f"database error: {type(exc).__name__}"
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
