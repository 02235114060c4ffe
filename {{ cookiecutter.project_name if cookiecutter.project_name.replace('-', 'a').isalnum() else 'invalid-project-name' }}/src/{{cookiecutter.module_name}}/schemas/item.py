"""What the API accepts and returns for items."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from {{ cookiecutter.module_name }}.models.item import NAME_MAX_LENGTH
from {{ cookiecutter.module_name }}.schemas.types import PostgresText


class ItemCreate(BaseModel):
    name: PostgresText = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    description: PostgresText | None = Field(default=None, max_length=10_000)


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    created_at: datetime
