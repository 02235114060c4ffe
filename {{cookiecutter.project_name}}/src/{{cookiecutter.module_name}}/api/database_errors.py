"""Database errors in the error shape: what the client caused is a 4xx, a database that cannot
be reached is a 503. Anything else stays a 500 (api/errors.py)."""

import logging
from typing import Any, cast

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import exc

from {{ cookiecutter.module_name }}.api.errors import ErrorResponse, error_response

logger = logging.getLogger(__name__)

# PostgreSQL's SQLSTATE codes (Appendix A of its manual) for the constraints a client can break.
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
CONFLICTS = {
    UNIQUE_VIOLATION: "A row with the same unique value already exists.",
    FOREIGN_KEY_VIOLATION: "The row refers to a row that does not exist, or is still referred to.",
}
# Connection exceptions (08) and a server shutting down or starting up (57P).
UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P")

# For the routes that use the database (`APIRouter(responses=...)`).
DATABASE_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: {"model": ErrorResponse, "description": "Conflicts with stored data"},
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorResponse,
        "description": "The database is unavailable",
    },
}


def sqlstate(error: exc.DBAPIError) -> str:
    return str(getattr(error.orig, "sqlstate", None) or "")


def unavailable(request: Request, error: BaseException) -> JSONResponse:
    logger.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, repr(error)
    )
    return error_response(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "database_unavailable",
        "The database is unavailable; try again later.",
    )


# Starlette types every handler's exception as Exception; each is only registered for its own.
async def integrity_error(_request: Request, error: Exception) -> JSONResponse:
    """A unique or foreign-key violation is a 409; a broken check or NOT NULL is a 422."""
    code = sqlstate(cast("exc.IntegrityError", error))
    if code in CONFLICTS:
        return error_response(status.HTTP_409_CONFLICT, "conflict", CONFLICTS[code])
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        "constraint_violation",
        "The values break a rule of the stored data.",
    )


async def database_error(request: Request, error: Exception) -> JSONResponse:
    """A lost or refused connection is a 503; any other database error is a server error."""
    dbapi_error = cast("exc.DBAPIError", error)
    if dbapi_error.connection_invalidated or sqlstate(dbapi_error).startswith(
        UNAVAILABLE_SQLSTATE_PREFIXES
    ):
        return unavailable(request, error)
    raise error


async def connection_error(request: Request, error: Exception) -> JSONResponse:
    """No connection at all: the driver's OSError (refused, unreachable, unknown host) or a
    timeout (connecting, or waiting for a pooled connection)."""
    return unavailable(request, error)


def install_database_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(exc.IntegrityError, integrity_error)
    app.add_exception_handler(exc.DBAPIError, database_error)
    app.add_exception_handler(exc.TimeoutError, connection_error)
    app.add_exception_handler(OSError, connection_error)  # TimeoutError is an OSError
