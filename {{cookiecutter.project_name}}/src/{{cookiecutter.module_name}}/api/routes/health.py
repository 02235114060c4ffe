"""Liveness (no I/O) and readiness (the database answers within a timeout)."""

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import text

from {{ cookiecutter.module_name }}.db.session import EngineDep

router = APIRouter(tags=["health"])


class HealthStatus(BaseModel):
    status: Literal["ok", "unavailable"]
    reason: str | None = None


def get_readiness_timeout(request: Request) -> float:
    timeout: float = request.app.state.settings.readiness_timeout_seconds
    return timeout


@router.get("/healthz")
async def liveness() -> HealthStatus:
    return HealthStatus(status="ok")


@router.get(
    "/readyz",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthStatus}},
)
async def readiness(
    engine: EngineDep,
    wait_seconds: Annotated[float, Depends(get_readiness_timeout)],
    response: Response,
) -> HealthStatus:
    try:
        async with asyncio.timeout(wait_seconds):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        reason = f"database did not answer within {wait_seconds:g} s"
    except Exception as exc:  # any failure means "not ready"
        reason = f"database error: {type(exc).__name__}"
    else:
        return HealthStatus(status="ok")
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthStatus(status="unavailable", reason=reason)
