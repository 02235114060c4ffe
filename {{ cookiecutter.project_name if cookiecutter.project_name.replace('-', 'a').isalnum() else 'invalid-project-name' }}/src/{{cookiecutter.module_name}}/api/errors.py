"""One JSON shape for every error: validation errors, HTTP errors and unhandled exceptions.
Database errors get their answers in api/database_errors.py, in the same shape."""

import logging
from collections.abc import Mapping
from http import HTTPMethod
from typing import Any, cast

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
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
    # api/concurrency.py and a request cut at the shutdown grace limit (record 0025).
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorResponse,
        "description": "Too many requests in progress, or shutting down: retry after Retry-After",
    },
}

CODES = {
    status.HTTP_400_BAD_REQUEST: "bad_request",
    status.HTTP_401_UNAUTHORIZED: "unauthorized",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "method_not_allowed",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_413_CONTENT_TOO_LARGE: "payload_too_large",
    status.HTTP_503_SERVICE_UNAVAILABLE: "service_unavailable",
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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unhandled_error)
