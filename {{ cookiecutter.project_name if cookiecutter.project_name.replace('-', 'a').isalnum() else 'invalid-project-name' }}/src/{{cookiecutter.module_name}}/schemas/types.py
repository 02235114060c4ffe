"""Field types shared by request models: what PostgreSQL can store, checked at the edge."""

from typing import Annotated

from pydantic import AfterValidator, Field

# PostgreSQL's bigint: ids and offsets beyond it are a 422, not a database error (a 500).
BIGINT_MAX = 2**63 - 1


def storable_in_postgres(value: str) -> str:
    """PostgreSQL text holds neither NUL characters nor lone UTF-16 surrogates."""
    if "\x00" in value:
        msg = "must not contain NUL characters"
        raise ValueError(msg)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        msg = "must be valid Unicode text (no lone surrogates)"
        raise ValueError(msg) from None
    return value


# The pattern tells the OpenAPI document (and its clients) that NUL is refused; the validator
# still does the refusing, with its own message.
PostgresText = Annotated[
    str,
    Field(json_schema_extra={"pattern": r"^[^\x00]*$"}),
    AfterValidator(storable_in_postgres),
]
