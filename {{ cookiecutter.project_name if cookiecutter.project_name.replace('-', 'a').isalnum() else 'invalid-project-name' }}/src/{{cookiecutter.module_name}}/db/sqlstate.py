"""PostgreSQL's SQLSTATE codes (Appendix A of its manual) that the service acts on, and how to
read the code from a database error. api/database_errors.py maps every class to an answer."""

from sqlalchemy import exc

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
READ_ONLY_SQL_TRANSACTION = "25006"
# A transaction that failed only because another one ran at the same time: run it again.
RETRY_THE_TRANSACTION = frozenset({SERIALIZATION_FAILURE, DEADLOCK_DETECTED})


def sqlstate(error: BaseException) -> str:
    """The five-character code of a database error, or "" for an error without one. SQLAlchemy
    wraps the driver's error in `DBAPIError`, whose `orig` carries the code as `sqlstate`."""
    source = error.orig if isinstance(error, exc.DBAPIError) else error
    return str(getattr(source, "sqlstate", None) or "")
