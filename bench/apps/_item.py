"""The response model of the FastAPI references: the baked service's ItemRead, field for field."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # the textbook validates the ORM object

    id: int
    name: str
    description: str | None
    created_at: datetime
