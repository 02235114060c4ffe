"""The keys of `Idempotency-Key` requests and the first answer to each (api/idempotency.py)."""

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from {{ cookiecutter.module_name }}.db.base import Base


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    # Whose key it is (api/idempotency.py's caller_scope), then the key the client sent.
    scope: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    # SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    status_code: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, str]] = mapped_column(JSONB)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Indexed: each stored key deletes a few expired ones, oldest first.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
