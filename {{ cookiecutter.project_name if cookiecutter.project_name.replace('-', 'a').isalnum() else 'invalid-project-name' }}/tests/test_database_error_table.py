"""The answer to each database error, as a table: add a line when a route meets a new one.

Codes are PostgreSQL's SQLSTATEs (Appendix A of its manual); a class is the first two characters.
tests/test_database_errors.py provokes the common ones for real.
"""

import pytest
from fastapi import status
from sqlalchemy import exc

from {{ cookiecutter.module_name }}.api.database_errors import (
    DATABASE_ERROR_RESPONSES,
    TRANSIENT,
    answer_for,
    answer_for_sqlstate,
)

UNAVAILABLE = status.HTTP_503_SERVICE_UNAVAILABLE

# SQLSTATE, then the status, code and Retry-After (seconds, None: no header) it answers.
BY_SQLSTATE = [
    ("23505", status.HTTP_409_CONFLICT, "conflict", None),  # unique_violation
    ("23503", status.HTTP_409_CONFLICT, "conflict", None),  # foreign_key_violation
    ("23514", status.HTTP_422_UNPROCESSABLE_CONTENT, "constraint_violation", None),  # check
    ("23502", status.HTTP_422_UNPROCESSABLE_CONTENT, "constraint_violation", None),  # not null
    ("57014", UNAVAILABLE, "database_timeout", 2),  # statement timeout, or cancelled
    ("25P03", UNAVAILABLE, "database_timeout", 2),  # idle-in-transaction timeout
    ("55P03", UNAVAILABLE, "database_busy", 1),  # lock timeout
    ("40001", UNAVAILABLE, "database_busy", 1),  # serialization failure
    ("40P01", UNAVAILABLE, "database_busy", 1),  # deadlock
    ("53300", UNAVAILABLE, "database_busy", 1),  # too many connections
    ("53200", UNAVAILABLE, "database_busy", 1),  # out of memory
    ("25006", UNAVAILABLE, "database_read_only", 5),  # read-only transaction
    ("08006", UNAVAILABLE, "database_unavailable", 5),  # connection failure
    ("08003", UNAVAILABLE, "database_unavailable", 5),  # connection does not exist
    ("57P01", UNAVAILABLE, "database_unavailable", 5),  # admin shutdown
    ("57P03", UNAVAILABLE, "database_unavailable", 5),  # cannot connect now (starting up)
]
# Errors that are bugs or need a person, not a retry: a 500.
SERVER_ERRORS = ["42P01", "42703", "22003", "40002", "57000", "XX000", ""]

# Errors without a SQLSTATE.
BY_ERROR_TYPE = [
    (TimeoutError(), "database_timeout"),  # the driver's timeout, or a request's deadline
    (exc.TimeoutError("QueuePool limit reached"), "database_busy"),  # no pooled connection
    (ConnectionRefusedError(111, "Connect call failed"), "database_unavailable"),
    (OSError(113, "No route to host"), "database_unavailable"),
]


@pytest.mark.parametrize(("sqlstate", "status_code", "code", "retry_after"), BY_SQLSTATE)
def test_each_sqlstate_has_its_answer(
    sqlstate: str, status_code: int, code: str, retry_after: int | None
) -> None:
    answer = answer_for_sqlstate(sqlstate)
    assert answer is not None
    assert (answer.status_code, answer.code, answer.retry_after_seconds) == (
        status_code,
        code,
        retry_after,
    )
    response = answer.response()
    assert response.status_code == status_code
    expected = None if retry_after is None else str(retry_after)
    assert response.headers.get("retry-after") == expected


@pytest.mark.parametrize("sqlstate", SERVER_ERRORS)
def test_other_sqlstates_stay_server_errors(sqlstate: str) -> None:
    assert answer_for_sqlstate(sqlstate) is None


@pytest.mark.parametrize(("error", "code"), BY_ERROR_TYPE, ids=lambda value: type(value).__name__)
def test_errors_without_a_sqlstate_have_their_answer(error: Exception, code: str) -> None:
    answer = answer_for(error)
    assert answer is not None
    assert answer.status_code == UNAVAILABLE
    assert answer.code == code


def test_an_error_that_is_not_the_databases_is_a_server_error() -> None:
    assert answer_for(RuntimeError("a bug")) is None


def test_the_openapi_answer_names_every_transient_code_and_retry_after() -> None:
    documented = DATABASE_ERROR_RESPONSES[UNAVAILABLE]
    assert "Retry-After" in documented["headers"]
    for answer in TRANSIENT:
        assert answer.status_code == UNAVAILABLE
        assert answer.retry_after_seconds is not None
        assert f"`{answer.code}`" in documented["description"]
