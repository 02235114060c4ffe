"""One JSON shape for every error: validation errors, HTTP errors and unhandled exceptions."""

import logging
from collections.abc import Mapping
from http import HTTPMethod
from typing import Any, cast

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sqlalchemy_exc
from starlette.exceptions import HTTPException
from starlette.routing import Match

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


# Added to every route's documented responses (422 replaces FastAPI's own validation schema).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {"model": ErrorResponse, "description": "Malformed body"},
    status.HTTP_413_CONTENT_TOO_LARGE: {"model": ErrorResponse, "description": "Body too large"},
    status.HTTP_422_UNPROCESSABLE_CONTENT: {"model": ErrorResponse, "description": "Invalid input"},
    status.HTTP_500_INTERNAL_SERVER_ERROR: {"model": ErrorResponse, "description": "Server error"},
}

CODES = {
    status.HTTP_400_BAD_REQUEST: "bad_request",
    status.HTTP_401_UNAUTHORIZED: "unauthorized",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_413_CONTENT_TOO_LARGE: "payload_too_large",
}


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    return JSONResponse(
        jsonable_encoder(body, exclude_none=True), status_code=status_code, headers=headers
    )


# Starlette types every handler's exception as Exception; each is only registered for its own.
async def http_error(request: Request, exc: Exception) -> JSONResponse:
    exc = cast("HTTPException", exc)
    if isinstance(exc.__cause__, UnicodeDecodeError):
        # A JSON body that is not UTF-8 does not decode, as malformed JSON does not: FastAPI
        # answers the latter 422 `json_invalid`, and so does this (record 0012).
        problem = {"type": "json_invalid", "loc": ("body",), "msg": str(exc.__cause__)}
        return await validation_error(request, RequestValidationError([problem]))
    code = CODES.get(exc.status_code, f"http_{exc.status_code}")
    headers = exc.headers
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path, asked of each route with `matches`, the one
    question every Starlette route answers: a route of an included router is not a `Route` in
    `app.routes`, and a path with one route per method (a GET and a POST on one collection)
    would otherwise answer `Allow` with the first route's only."""
    return [
        method
        for method in HTTPMethod
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.routes
        )
    ]


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    exc = cast("RequestValidationError", exc)
    details = [
        {"location": list(error["loc"]), "message": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        "validation_error",
        "The request is not valid.",
        details,
    )


async def unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    """Never a stack trace in the response; the full one goes to the log."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        status.HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Internal server error."
    )


# ---------------------------------------------------------------- database errors
# What the client caused is a 4xx, a database that cannot be reached a 503; any other database
# error stays a 500.

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


def _sqlstate(error: sqlalchemy_exc.DBAPIError) -> str:
    return str(getattr(error.orig, "sqlstate", None) or "")


def database_unavailable(request: Request, error: BaseException) -> JSONResponse:
    logger.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, repr(error)
    )
    return error_response(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "database_unavailable",
        "The database is unavailable; try again later.",
    )


async def integrity_error(_request: Request, error: Exception) -> JSONResponse:
    """A unique or foreign-key violation is a 409; a broken check or NOT NULL is a 422."""
    code = _sqlstate(cast("sqlalchemy_exc.IntegrityError", error))
    if code in CONFLICTS:
        return error_response(status.HTTP_409_CONFLICT, "conflict", CONFLICTS[code])
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        "constraint_violation",
        "The values break a rule of the stored data.",
    )


async def database_error(request: Request, error: Exception) -> JSONResponse:
    """A lost or refused connection is a 503; any other database error is a server error."""
    dbapi_error = cast("sqlalchemy_exc.DBAPIError", error)
    if dbapi_error.connection_invalidated or _sqlstate(dbapi_error).startswith(
        UNAVAILABLE_SQLSTATE_PREFIXES
    ):
        return database_unavailable(request, error)
    raise error


async def connection_error(request: Request, error: Exception) -> JSONResponse:
    """No connection at all: the driver's OSError (refused, unreachable, unknown host) or a
    timeout (connecting, or waiting for a pooled connection)."""
    return database_unavailable(request, error)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unhandled_error)
    app.add_exception_handler(sqlalchemy_exc.IntegrityError, integrity_error)
    app.add_exception_handler(sqlalchemy_exc.DBAPIError, database_error)
    app.add_exception_handler(sqlalchemy_exc.TimeoutError, connection_error)
    app.add_exception_handler(OSError, connection_error)  # TimeoutError is an OSError
