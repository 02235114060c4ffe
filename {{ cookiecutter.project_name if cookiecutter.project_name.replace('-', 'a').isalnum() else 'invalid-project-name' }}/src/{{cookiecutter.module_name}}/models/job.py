"""The background jobs queue (jobs/, record 0031): one row per job that is waiting, running or
failed. A job that succeeds is deleted, so the table holds only what is still to be done or
looked at."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, Index, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from {{ cookiecutter.module_name }}.db.base import Base

QUEUED, RUNNING, FAILED = "queued", "running", "failed"
STATES = (QUEUED, RUNNING, FAILED)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'failed')", name="state"),
        CheckConstraint("max_attempts >= 1", name="max_attempts"),
        # The worker's claim: queued jobs that are due, and running ones whose lease expired.
        Index("ix_jobs_state_run_after", "state", "run_after"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # The name the job's function is registered under (jobs/registry.py).
    task: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[str] = mapped_column(Text, default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    # Not before: a delayed job, or the next attempt after a failure (exponential backoff).
    run_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The lease of a running job: the worker holding it extends it while the job runs; once it
    # has expired, any worker may claim the job again (record 0031).
    locked_by: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    # The enqueuing request's trace context and id, continued by the job's span and log lines.
    traceparent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
