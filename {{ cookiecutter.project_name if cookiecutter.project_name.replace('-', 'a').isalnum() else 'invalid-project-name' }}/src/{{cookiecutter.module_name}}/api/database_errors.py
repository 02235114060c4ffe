"""Database errors as answers, in one table by SQLSTATE class (PostgreSQL's Appendix A).

What the client caused is a 409 or a 422. What passes when the client tries again (a timeout, a
lock or a conflict with another transaction, a read-only or unreachable database) is a 503 in
the error shape with `Retry-After` and a code that says which, logged as one warning line. Any
other database error stays a 500 (docs/decisions/0024-database-errors-by-sqlstate.md).
"""

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import exc

from {{ cookiecutter.module_name }}.api.errors import ErrorResponse, error_response
from {{ cookiecutter.module_name }}.db.sqlstate import sqlstate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatabaseAnswer:
    status_code: int
    code: str
    message: str
    retry_after_seconds: int | None = None

    def response(self) -> JSONResponse:
        headers = None
        if self.retry_after_seconds is not None:
            headers = {"Retry-After": str(self.retry_after_seconds)}
        return error_response(self.status_code, self.code, self.message, headers=headers)


# 503 for every one, a timeout included: see record 0024 for why not 504.
TIMEOUT = DatabaseAnswer(
    status.HTTP_503_SERVICE_UNAVAILABLE,
    "database_timeout",
    "The database did not answer in time; try again.",
    retry_after_seconds=2,
)
BUSY = DatabaseAnswer(
    status.HTTP_503_SERVICE_UNAVAILABLE,
    "database_busy",
    "The database is busy; try again.",
    retry_after_seconds=1,
)
READ_ONLY = DatabaseAnswer(
    status.HTTP_503_SERVICE_UNAVAILABLE,
    "database_read_only",
    "The database accepts no writes right now; try again.",
    retry_after_seconds=5,
)
UNAVAILABLE = DatabaseAnswer(
    status.HTTP_503_SERVICE_UNAVAILABLE,
    "database_unavailable",
    "The database is unavailable; try again later.",
    retry_after_seconds=5,
)
DUPLICATE = DatabaseAnswer(
    status.HTTP_409_CONFLICT, "conflict", "A row with the same unique value already exists."
)
DANGLING_REFERENCE = DatabaseAnswer(
    status.HTTP_409_CONFLICT,
    "conflict",
    "The row refers to a row that does not exist, or is still referred to.",
)
BROKEN_RULE = DatabaseAnswer(
    status.HTTP_422_UNPROCESSABLE_CONTENT,
    "constraint_violation",
    "The values break a rule of the stored data.",
)

# Keys are a whole code or a prefix of one (a class is its first two characters); the longest
# key that matches wins. A code that matches none is a 500.
BY_SQLSTATE: dict[str, DatabaseAnswer] = {
    "23505": DUPLICATE,  # unique_violation
    "23503": DANGLING_REFERENCE,  # foreign_key_violation
    "23": BROKEN_RULE,  # integrity constraint violation: check, not null, exclusion
    "57014": TIMEOUT,  # query_canceled: statement_timeout, or a cancel from an operator
    "25P03": TIMEOUT,  # idle_in_transaction_session_timeout
    "55P03": BUSY,  # lock_not_available: lock_timeout, or NOWAIT
    "40001": BUSY,  # serialization_failure
    "40P01": BUSY,  # deadlock_detected
    "53": BUSY,  # insufficient resources: too many connections, out of memory, disk full
    "25006": READ_ONLY,  # read_only_sql_transaction: a standby, or a demoted primary
    "08": UNAVAILABLE,  # connection exception
    "57P": UNAVAILABLE,  # operator intervention: shutdown, crash, starting up, database dropped
}
PREFIX_LENGTHS = sorted({len(key) for key in BY_SQLSTATE}, reverse=True)

# Errors that carry no SQLSTATE, first match wins: TimeoutError is an OSError, so it comes first.
BY_ERROR_TYPE: tuple[tuple[type[BaseException], DatabaseAnswer], ...] = (
    (exc.TimeoutError, BUSY),  # SQLAlchemy's: no pooled connection (or read slot) free in time
    (TimeoutError, TIMEOUT),  # the driver's own timeout, or a deadline's
    (OSError, UNAVAILABLE),  # no connection at all: refused, unreachable, unknown host
)

RETRY_AFTER_HEADER: dict[str, Any] = {
    "description": "Seconds to wait before trying again",
    "schema": {"type": "integer"},
}
TRANSIENT = (TIMEOUT, BUSY, READ_ONLY, UNAVAILABLE)
# For the routes that use the database (`APIRouter(responses=...)`).
DATABASE_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: {"model": ErrorResponse, "description": "Conflicts with stored data"},
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorResponse,
        "description": "The database cannot serve the request now; try again after Retry-After. "
        "Codes: " + ", ".join(f"`{answer.code}`" for answer in TRANSIENT),
        "headers": {"Retry-After": RETRY_AFTER_HEADER},
    },
}


def answer_for_sqlstate(code: str) -> DatabaseAnswer | None:
    for length in PREFIX_LENGTHS:
        answer = BY_SQLSTATE.get(code[:length]) if len(code) >= length else None
        if answer is not None:
            return answer
    return None


def answer_for(error: BaseException) -> DatabaseAnswer | None:
    """The answer to a database error, or None: a server error (500)."""
    if isinstance(error, exc.DBAPIError):
        return answer_for_dbapi_error(error)
    return next((answer for kind, answer in BY_ERROR_TYPE if isinstance(error, kind)), None)


def answer_for_dbapi_error(error: exc.DBAPIError) -> DatabaseAnswer | None:
    answer = answer_for_sqlstate(sqlstate(error))
    if answer is None and error.connection_invalidated:  # it dropped, with no code to say why
        answer = UNAVAILABLE
    if answer is None and isinstance(error, exc.IntegrityError):
        answer = BROKEN_RULE
    return answer


def what_happened(error: BaseException) -> str:
    """For the log line: the SQLSTATE, else the error's type and the driver's message (never a
    DBAPIError's text: it holds the statement and its parameters)."""
    code = sqlstate(error)
    if code:
        return f"SQLSTATE {code}"
    if isinstance(error, exc.DBAPIError):
        return type(error.orig).__name__
    return f"{type(error).__name__}: {error}"


async def database_error(request: Request, error: Exception) -> JSONResponse:
    answer = answer_for(error)
    if answer is None:
        raise error  # the unhandled-error handler logs its traceback and answers 500
    if answer.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        logger.warning(
            "%s on %s %s: %s",
            answer.code,
            request.method,
            request.url.path,
            what_happened(error),
            extra={"error_code": answer.code, "sqlstate": sqlstate(error) or None},
        )
    return answer.response()


def install_database_error_handlers(app: FastAPI) -> None:
    # Starlette picks the handler of the nearest class in the error's MRO: TimeoutError and
    # IntegrityError reach this one through OSError and DBAPIError, and `answer_for` tells them.
    for error_type in (exc.DBAPIError, exc.TimeoutError, OSError):
        app.add_exception_handler(error_type, database_error)
