"""The background jobs worker: `python -m {{ cookiecutter.module_name }}.worker` (record 0031).

It is a small FastAPI app served by uvicorn on HOST:WORKER_PORT, so that it starts with the
API's settings, logging and telemetry (OTEL_* variables, the PostgreSQL spans) and answers
its probes: /healthz (the process runs) and /readyz (the database answered within a lease).
The jobs run in its lifespan; on SIGTERM uvicorn ends the lifespan, and the worker drains.

    python -m {{ cookiecutter.module_name }}.worker                 # run jobs
    python -m {{ cookiecutter.module_name }}.worker retry 12 15     # queue failed jobs again
    python -m {{ cookiecutter.module_name }}.worker retry --all      # every failed job
"""

import argparse
import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, status
from fastapi.responses import JSONResponse
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.core.logging import configure_logging
from {{ cookiecutter.module_name }}.core.telemetry import database_telemetry, telemetry_config
from {{ cookiecutter.module_name }}.db.session import Database
from {{ cookiecutter.module_name }}.jobs.queue import retry_failed
from {{ cookiecutter.module_name }}.jobs.registry import JOBS
from {{ cookiecutter.module_name }}.jobs.run import JobFunction
from {{ cookiecutter.module_name }}.jobs.worker import Worker
from {{ cookiecutter.module_name }}.serve import enter_project_folder, settings_or_exit


def observe_queue(worker: Worker) -> None:
    """Queue depth by state, as last read by the worker (every third of a lease)."""

    def depth(_options: CallbackOptions) -> Iterable[Observation]:
        for state, count in worker.depth.items():
            yield Observation(count, {"job.state": state})

    metrics.get_meter(__name__).create_observable_gauge(
        "job.queue.depth", callbacks=[depth], unit="{job}", description="Jobs by state."
    )


def create_worker_app(settings: Settings, jobs: Mapping[str, JobFunction] = JOBS) -> FastAPI:
    configure_logging(settings.log_level, settings.effective_log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        worker = Worker(settings, database, jobs)
        app.state.worker = worker
        try:
            async with database_telemetry(database):
                observe_queue(worker)
                worker.start()
                try:
                    yield
                finally:
                    await worker.stop()
        finally:
            await database.dispose()

    app = FastAPI(
        title=f"{settings.app_name} worker",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=telemetry_config(),
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        worker: Worker = app.state.worker
        if worker.is_ready():
            return JSONResponse({"status": "ok", "running": worker.running})
        return JSONResponse(
            {"status": "unavailable", "reason": "the database has not answered"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    return app


async def retry(settings: Settings, job_ids: list[int] | None) -> list[int]:
    database = Database(settings)
    try:
        async with database.session() as session:
            queued = await retry_failed(session, job_ids)
            await session.commit()
    finally:
        await database.dispose()
    return queued


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m {{ cookiecutter.module_name }}.worker")
    commands = parser.add_subparsers(dest="command")
    again = commands.add_parser("retry", help="queue failed jobs again")
    again.add_argument("job_ids", nargs="*", type=int)
    again.add_argument("--all", action="store_true", help="every failed job")
    arguments = parser.parse_args(argv)
    enter_project_folder()
    settings = settings_or_exit()
    if arguments.command == "retry":
        if not arguments.job_ids and not arguments.all:
            parser.error("retry: give job ids, or --all")
        queued = asyncio.run(retry(settings, None if arguments.all else arguments.job_ids))
        print(f"queued again: {' '.join(map(str, queued)) or 'none'}")
        return
    uvicorn.run(
        create_worker_app(settings),
        host=settings.host,
        port=settings.worker_port,
        access_log=False,
        log_config=None,  # create_worker_app configures logging, as create_app does
        server_header=False,
    )


if __name__ == "__main__":
    main()
