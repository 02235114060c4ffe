"""Enqueue and retry: statements on the caller's session, so they commit or roll back with it."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from opentelemetry import propagate
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.module_name }}.core.logging import request_id
from {{ cookiecutter.module_name }}.models.job import FAILED, QUEUED, Job

# Workers LISTEN on this channel; a NOTIFY is delivered when the enqueuing transaction commits,
# and never when it rolls back.
CHANNEL = "jobs"
DEFAULT_MAX_ATTEMPTS = 5
# The row and its NOTIFY in one statement, one round trip, built once: a Core INSERT on the jobs
# table costs a third of the CPU that adding a Job and flushing it does (record 0031).
JOB_TABLE = Job.metadata.tables[Job.__tablename__]
ENQUEUE = insert(JOB_TABLE).returning(JOB_TABLE.c.id, func.pg_notify(CHANNEL, ""))


async def enqueue(
    session: AsyncSession,
    task: str,
    payload: Mapping[str, Any],
    *,
    run_after: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Add a job to the session's transaction and return its id. `task` names a function in
    jobs/registry.py's JOBS (a worker that does not know it counts a failed attempt: an API may
    be deployed before its worker). `run_after`: not before this (timezone-aware) time. The
    payload must be JSON: ids, not objects, so that the job reads the committed state."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # the current span's W3C traceparent, if tracing is on
    row: dict[str, Any] = {
        "task": task,
        "payload": dict(payload),
        "max_attempts": max_attempts,
        "traceparent": carrier.get("traceparent"),
        "request_id": request_id.get(),
    }
    if run_after is not None:
        row["run_after"] = run_after
    job_id: int = (await session.execute(ENQUEUE, row)).scalar_one()
    return job_id


async def retry_failed(session: AsyncSession, job_ids: Sequence[int] | None = None) -> list[int]:
    """Queue failed jobs again with a fresh set of attempts: the given ones, or every failed job
    when `job_ids` is None. Returns the ids queued; commit the session to make it so."""
    statement = (
        update(Job)
        .where(Job.state == FAILED)
        .values(state=QUEUED, attempts=0, run_after=func.now(), last_error=None)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    if job_ids is not None:
        statement = statement.where(Job.id.in_(job_ids))
    queued = list((await session.scalars(statement)).all())
    if queued:
        await session.execute(select(func.pg_notify(CHANNEL, "")))
    return queued
