"""The worker: claims due jobs, runs them, and settles each (record 0031).

- A claim is a short transaction (`FOR UPDATE SKIP LOCKED`) that marks the job running under a
  lease of JOB_LEASE_SECONDS; the job's own work runs outside it, in sessions of its own. While
  a job runs, its lease is extended every third of the lease. A worker killed mid-job stops
  extending it: once it expires, the job is claimed again (at least once, never lost).
- A failure queues the job again after FIRST * 2**(attempt - 1) seconds (at most MAX) until
  its attempts run out; then it stays `failed` until `retry_failed` queues it again.
- Work is announced by NOTIFY (at the enqueuing commit); without one, the worker looks every
  JOB_POLL_SECONDS, which also bounds how late a delayed job starts.
- `stop()` takes no more jobs, lets running ones finish within WORKER_SHUTDOWN_GRACE_SECONDS,
  cancels the rest and releases them to the queue at once.
"""

import asyncio
import functools
import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import Interval, Update, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import Executable

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.core.logging import job_id, request_id
from {{ cookiecutter.module_name }}.db.session import Database
from {{ cookiecutter.module_name }}.jobs.queue import CHANNEL
from {{ cookiecutter.module_name }}.jobs.run import JobFunction, JobRun
from {{ cookiecutter.module_name }}.models.job import FAILED, QUEUED, RUNNING, Job

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
# What a database that is down or restarting raises; anything else is a bug and propagates.
UNAVAILABLE = (SQLAlchemyError, OSError, TimeoutError)
SETTLE_TRIES = 3

due = or_(
    and_(Job.state == QUEUED, Job.run_after <= func.now()),
    and_(Job.state == RUNNING, Job.lease_expires_at < func.now()),
)
# As many as the worker has free slots, in one statement.
next_due = (
    select(Job.id)
    .where(due)
    .order_by(Job.run_after)
    .limit(bindparam("free"))
    .with_for_update(skip_locked=True)
)
LEASE = bindparam("lease", type_=Interval())
CLAIM = (
    update(Job)
    .where(Job.id.in_(next_due))
    .values(
        state=RUNNING,
        attempts=Job.attempts + 1,
        locked_by=bindparam("worker"),
        lease_expires_at=func.now() + LEASE,
    )
    .returning(
        Job.id,
        Job.task,
        Job.payload,
        Job.attempts,
        Job.max_attempts,
        Job.traceparent,
        Job.request_id,
    )
    .execution_options(synchronize_session=False)
)
DEPTH = select(Job.state, func.count().label("count")).group_by(Job.state)


@dataclass(frozen=True)
class Claimed:
    id: int
    task: str
    payload: Mapping[str, Any]
    attempts: int
    max_attempts: int
    traceparent: str | None
    request_id: str | None


def listen_dsn(settings: Settings) -> str:
    """asyncpg's own form of DATABASE_URL, for the LISTEN connection."""
    url = make_url(settings.database_url.get_secret_value()).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class Worker:
    def __init__(
        self, settings: Settings, database: Database, jobs: Mapping[str, JobFunction]
    ) -> None:
        self.name = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"
        self._settings = settings
        self._database = database
        self._jobs = jobs
        self._lease = timedelta(seconds=settings.job_lease_seconds)
        self._slot_freed = asyncio.Event()
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # Read by the metrics and the readiness probe.
        self.depth: dict[str, int] = {}
        self.last_contact: float | None = None  # time.monotonic() of the last answer
        meter = metrics.get_meter(__name__)
        self._duration = meter.create_histogram(
            "job.duration", unit="s", description="How long a job's attempt ran."
        )
        self._failures = meter.create_counter(
            "job.failures", unit="{attempt}", description="Attempts that raised."
        )

    @property
    def running(self) -> int:
        return len(self._running)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._take_jobs()),
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._keep_leases()),
        ]

    async def stop(self) -> None:
        if not self._tasks:
            return
        take_jobs, *background = self._tasks
        take_jobs.cancel()
        await asyncio.gather(take_jobs, return_exceptions=True)
        grace = self._settings.worker_shutdown_grace_seconds
        unfinished: set[asyncio.Task[None]] = set()
        if self._running:
            logger.info("stopping: waiting up to %g s for %d job(s)", grace, len(self._running))
            _, unfinished = await asyncio.wait(self._running.values(), timeout=grace or None)
        unfinished_ids = [i for i, task in self._running.items() if task in unfinished]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        if unfinished_ids:
            await self._release(unfinished_ids)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    def is_ready(self) -> bool:
        """The database answered within the last lease: the worker can claim and keep leases."""
        last = self.last_contact
        return last is not None and time.monotonic() - last < self._settings.job_lease_seconds

    # ---------------------------------------------------------------- taking jobs

    async def _take_jobs(self) -> None:
        while True:
            free = self._settings.worker_concurrency - len(self._running)
            if not free:
                await self._slot_freed.wait()
                self._slot_freed.clear()
                continue
            claimed = await self._claim(free)
            for job in claimed:
                task = asyncio.create_task(self._run(job))
                self._running[job.id] = task
                task.add_done_callback(functools.partial(self._finished, job.id))
            if len(claimed) < free:  # nothing more is due now
                await self._wait_for_work()

    def _finished(self, claimed: int, _task: "asyncio.Task[None]") -> None:
        del self._running[claimed]
        self._slot_freed.set()

    async def _claim(self, free: int) -> list[Claimed]:
        parameters = {"worker": self.name, "lease": self._lease, "free": free}
        try:
            async with self._database.session() as session:
                rows = (await session.execute(CLAIM, parameters)).mappings().all()
                await session.commit()
        except UNAVAILABLE as error:
            logger.warning("cannot claim jobs now: %s", error)
            return []
        self.last_contact = time.monotonic()
        return [Claimed(**row) for row in rows]

    async def _wait_for_work(self) -> None:
        with suppress(TimeoutError):
            async with asyncio.timeout(self._settings.job_poll_seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _listen(self) -> None:
        """LISTEN on its own connection, made again whenever it is lost."""
        dsn = listen_dsn(self._settings)
        while True:
            try:
                connection = await asyncpg.connect(
                    dsn, timeout=self._settings.db_connect_timeout_seconds
                )
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                logger.warning("cannot listen for jobs now: %s", error)
                await asyncio.sleep(self._settings.job_poll_seconds)
                continue
            try:
                await self._listen_on(connection)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                logger.warning("lost the jobs listener: %s", error)
            finally:
                connection.terminate()  # no I/O: the server ends the LISTEN with the session

    async def _listen_on(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(CHANNEL, lambda *_: self._wake.set())
        self._wake.set()  # whatever was enqueued while nobody listened
        while not connection.is_closed():
            with suppress(TimeoutError):
                async with asyncio.timeout(self._settings.job_poll_seconds):
                    await lost.wait()

    # ---------------------------------------------------------------- running one job

    async def _run(self, job: Claimed) -> None:
        tokens = request_id.set(job.request_id), job_id.set(job.id)
        parent = propagate.extract({"traceparent": job.traceparent}) if job.traceparent else None
        attributes: dict[str, str | int] = {
            "job.id": job.id,
            "job.task": job.task,
            "job.attempt": job.attempts,
        }
        started = time.perf_counter()
        outcome = "cancelled"
        try:
            with tracer.start_as_current_span(
                f"job {job.task}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
            ) as span:
                outcome = await self._attempt(job, span)
        finally:
            seconds = time.perf_counter() - started
            self._duration.record(seconds, {"job.task": job.task, "outcome": outcome})
            request_id.reset(tokens[0])
            job_id.reset(tokens[1])

    async def _attempt(self, job: Claimed, span: trace.Span) -> str:
        if job.attempts > job.max_attempts:
            reason = "its last attempt did not finish (the worker stopped; the lease expired)"
            logger.error("job %d (%s) failed: %s", job.id, job.task, reason)
            await self._settle(job, self._failed(job, reason))
            return "failed"
        logger.info("job %d (%s) attempt %d started", job.id, job.task, job.attempts)
        run = JobRun(job.id, job.task, job.payload, job.attempts, self._database)
        try:
            await self._function(job.task)(run)
        except Exception as error:
            span.record_exception(error)
            span.set_status(StatusCode.ERROR)
            self._failures.add(1, {"job.task": job.task})
            last = job.attempts >= job.max_attempts
            logger.exception(
                "job %d (%s) attempt %d of %d failed%s",
                job.id,
                job.task,
                job.attempts,
                job.max_attempts,
                "; no attempts left" if last else "",
            )
            text = f"{type(error).__name__}: {error}"
            await self._settle(job, self._failed(job, text) if last else self._retry(job, text))
            return "failed" if last else "retry"
        await self._settle(job, delete(Job).where(Job.id == job.id, Job.locked_by == self.name))
        logger.info("job %d (%s) done", job.id, job.task)
        return "done"

    def _function(self, task: str) -> JobFunction:
        function = self._jobs.get(task)
        if function is None:  # enqueued by an API newer than this worker: a later one knows it
            msg = f"no job is registered as {task!r} in this worker (jobs/registry.py)"
            raise LookupError(msg)
        return function

    def _ours(self, job: Claimed) -> Update:
        return (
            update(Job)
            .where(Job.id == job.id, Job.locked_by == self.name)
            .execution_options(synchronize_session=False)
        )

    def _retry(self, job: Claimed, error: str) -> Executable:
        first = self._settings.job_retry_first_delay_seconds
        delay = min(first * 2 ** (job.attempts - 1), self._settings.job_retry_max_delay_seconds)
        return self._ours(job).values(
            state=QUEUED,
            locked_by=None,
            lease_expires_at=None,
            last_error=error,
            run_after=func.now() + timedelta(seconds=delay),
        )

    def _failed(self, job: Claimed, error: str) -> Executable:
        return self._ours(job).values(
            state=FAILED, locked_by=None, lease_expires_at=None, last_error=error
        )

    async def _settle(self, job: Claimed, statement: Executable) -> None:
        """Record the outcome; a database that stays away leaves the job to its lease."""
        for attempt in range(SETTLE_TRIES):
            try:
                async with self._database.session() as session:
                    await session.execute(statement)
                    await session.commit()
            except UNAVAILABLE as error:
                logger.warning("cannot record job %d's outcome (%s)", job.id, error)
                await asyncio.sleep(2**attempt)
            else:
                return
        logger.error("job %d's outcome is not recorded: it runs again after its lease", job.id)

    # ---------------------------------------------------------------- leases

    async def _keep_leases(self) -> None:
        """Extend the leases of the running jobs, and read the queue's depth for the metrics."""
        while True:
            await asyncio.sleep(self._settings.job_lease_seconds / 3)
            try:
                if self._running:
                    await self._extend(list(self._running))
                rows = await self._database.read_all(DEPTH)
            except UNAVAILABLE as error:
                logger.warning("cannot extend job leases now: %s", error)
                continue
            self.depth = dict.fromkeys((QUEUED, RUNNING, FAILED), 0)
            self.depth.update((row["state"], row["count"]) for row in rows)
            self.last_contact = time.monotonic()

    async def _extend(self, ids: Sequence[int]) -> None:
        statement = (
            update(Job)
            .where(Job.id.in_(ids), Job.locked_by == self.name, Job.state == RUNNING)
            .values(lease_expires_at=func.now() + self._lease)
            .execution_options(synchronize_session=False)
        )
        async with self._database.session() as session:
            await session.execute(statement)
            await session.commit()

    async def _release(self, ids: Sequence[int]) -> None:
        """Jobs cancelled at the end of the grace: queued again at once, the attempt not
        counted (it did not fail)."""
        statement = (
            update(Job)
            .where(Job.id.in_(ids), Job.locked_by == self.name, Job.state == RUNNING)
            .values(
                state=QUEUED,
                attempts=Job.attempts - 1,
                locked_by=None,
                lease_expires_at=None,
                run_after=func.now(),
            )
            .execution_options(synchronize_session=False)
        )
        try:
            async with self._database.session() as session:
                await session.execute(statement)
                await session.execute(select(func.pg_notify(CHANNEL, "")))
                await session.commit()
        except UNAVAILABLE as error:
            logger.warning("cannot release jobs %s (%s): they run after their lease", ids, error)
            return
        logger.info("released job(s) %s to the queue", list(ids))
