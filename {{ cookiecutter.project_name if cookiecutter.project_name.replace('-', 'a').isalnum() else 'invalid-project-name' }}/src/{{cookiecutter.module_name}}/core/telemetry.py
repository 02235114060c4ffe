"""OpenTelemetry, switched on by the standard OTEL_* variables and by nothing else (record 0018).

FastAPI's native telemetry does the HTTP side: with OTEL_EXPORTER_OTLP_ENDPOINT set (and
OTEL_SDK_DISABLED not true) it installs the SDK's tracer and meter providers with OTLP/HTTP
exporters at start-up, honours W3C `traceparent`, names each server span by its route template
and records `http.server.request.duration`. The SDK reads OTEL_SERVICE_NAME,
OTEL_TRACES_SAMPLER and the batch and export intervals itself. With nothing set, no provider is
installed and every call below is skipped.

This module adds the database: a span per PostgreSQL statement (asyncpg instrumentation, bound
parameter values never recorded; `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=asyncpg` turns them off)
and the pool's connections in use and idle, and the reads waiting for one, as metrics.
"""

import os
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi.telemetry import TelemetryConfig
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from sqlalchemy.pool import QueuePool

from {{ cookiecutter.module_name }}.db.session import Database

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider

# The semantic conventions' names for a client connection pool's use.
CONNECTION_COUNT = "db.client.connection.count"
PENDING_REQUESTS = "db.client.connection.pending_requests"
CONNECTION_STATE = "db.client.connection.state"
POOL_NAME = "db.client.connection.pool.name"


def telemetry_config() -> TelemetryConfig:
    return {
        # Exporters from the standard variables, without FASTAPI_OTEL_AUTO_CONFIGURE.
        "auto_configure": True,
        # Traces and metrics only: log lines go to stderr as JSON, with trace ids in them.
        "logs": False,
        # One span per request instead of one per step (dependencies, endpoint,
        # serialisation): the PostgreSQL spans show where its time goes, and each span costs CPU.
        "operation_spans": False,
    }


@asynccontextmanager
async def database_telemetry(database: Database) -> AsyncIterator[None]:
    """PostgreSQL spans and pool metrics while the app runs, if an SDK provider is installed
    (by FastAPI from the OTEL_* variables, or by the team, e.g. `opentelemetry-instrument`)."""
    # Whoever installed an SDK provider imported the SDK. Without it, telemetry is off and the
    # SDK and the instrumentation stay unimported: about 0.15 s of start-up.
    if "opentelemetry.sdk" not in sys.modules:
        yield
        return
    # Imported here, see above.
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor  # noqa: PLC0415
    from opentelemetry.instrumentation.environment_variables import (  # noqa: PLC0415
        OTEL_PYTHON_DISABLED_INSTRUMENTATIONS,
    )
    from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415

    tracer_provider = trace.get_tracer_provider()
    instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    disabled = os.environ.get(OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, "").split(",")
    instrumented_here = (
        isinstance(tracer_provider, TracerProvider)
        and not instrumentor.is_instrumented_by_opentelemetry
        and "asyncpg" not in {name.strip() for name in disabled}
    )
    if instrumented_here:
        instrumentor.instrument(tracer_provider=tracer_provider)
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        observe_pool(meter_provider, database)
    try:
        yield
    finally:
        if instrumented_here:
            instrumentor.uninstrument()


def observe_pool(meter_provider: "MeterProvider", database: Database) -> None:
    """Read at each metric export, never per request: nothing is counted on the request path."""
    pool = database.engine.sync_engine.pool
    name = database.engine.url.database or "postgresql"

    def connection_count(_options: CallbackOptions) -> Iterable[Observation]:
        if isinstance(pool, QueuePool):
            yield Observation(pool.checkedout(), {CONNECTION_STATE: "used", POOL_NAME: name})
            yield Observation(pool.checkedin(), {CONNECTION_STATE: "idle", POOL_NAME: name})

    def pending_requests(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(database.waiting_reads, {POOL_NAME: name})

    meter = meter_provider.get_meter(__name__)
    meter.create_observable_up_down_counter(
        CONNECTION_COUNT,
        callbacks=[connection_count],
        unit="{connection}",
        description="Connections of the pool, by state: used (checked out) or idle.",
    )
    meter.create_observable_up_down_counter(
        PENDING_REQUESTS,
        callbacks=[pending_requests],
        unit="{request}",
        description="Reads waiting for a connection (the fair read queue of db/session.py).",
    )
