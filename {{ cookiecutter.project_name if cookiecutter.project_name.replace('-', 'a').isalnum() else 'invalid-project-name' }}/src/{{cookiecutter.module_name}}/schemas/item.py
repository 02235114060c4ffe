"""What the API accepts and returns for items."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from {{ cookiecutter.module_name }}.models.item import NAME_MAX_LENGTH
from {{ cookiecutter.module_name }}.schemas.types import PostgresText


class ItemCreate(BaseModel):
    # Unknown fields are an error, not silently dropped; strict: no `true` for 1, no 1 for "1".
    model_config = ConfigDict(extra="forbid", strict=True)

    name: PostgresText = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: PostgresText | None = Field(default=None, max_length=10_000)


class ItemUpdate(BaseModel):
    """A partial update: only the fields sent are changed (`null` clears the description)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Left out means unchanged; the schema does not offer `null` for a name (SkipJsonSchema).
    name: (
        Annotated[PostgresText, Field(min_length=1, max_length=NAME_MAX_LENGTH)]
        | SkipJsonSchema[None]
    ) = None
    description: PostgresText | None = Field(default=None, max_length=10_000)

    @field_validator("name")
    @classmethod
    def name_is_not_null(cls, name: str | None) -> str:
        """Runs only when `name` is sent: left out, it stays as it is; `null` is refused."""
        if name is None:
            msg = "name cannot be null"
            raise ValueError(msg)
        return name


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    created_at: datetime
{%- if cookiecutter.background_jobs == "yes" %}
    # Null until the background job created with the item has run (jobs/registry.py).
    processed_at: datetime | None
{%- endif %}
