"""The example resource's table."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from {{ cookiecutter.module_name }}.db.base import Base

NAME_MAX_LENGTH = 200


class Item(Base):
    __tablename__ = "items"
    # text + CHECK rather than varchar(n): changing a length limit later needs no table rewrite.
    __table_args__ = (
        CheckConstraint(f"char_length(name) <= {NAME_MAX_LENGTH}", name="name_length"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
{%- if cookiecutter.background_jobs == "yes" %}
    # Stamped by the example's background job (jobs/registry.py): null until the worker ran it.
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
{%- endif %}
