"""Application factory and the ASGI app that uvicorn serves."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import {% if cookiecutter.auth == "oidc" %}Depends, {% endif %}FastAPI
from fastapi.middleware.cors import CORSMiddleware

from {{ cookiecutter.module_name }}.api.body_limit import BodyLimitMiddleware
from {{ cookiecutter.module_name }}.api.concurrency import ConcurrencyLimitMiddleware
from {{ cookiecutter.module_name }}.api.database_errors import install_database_error_handlers
from {{ cookiecutter.module_name }}.api.errors import ERROR_RESPONSES, install_error_handlers
from {{ cookiecutter.module_name }}.api.request_id import RequestIdMiddleware
{%- if cookiecutter.include_example == "yes" %}
from {{ cookiecutter.module_name }}.api.routes import items
{%- endif %}
from {{ cookiecutter.module_name }}.api.routes.health import add_probe_routes
{%- if cookiecutter.auth == "oidc" %}
from {{ cookiecutter.module_name }}.auth import authenticate
from {{ cookiecutter.module_name }}.auth.verify import keys_kept_fresh, token_verifier
{%- endif %}
from {{ cookiecutter.module_name }}.core.config import Settings, get_settings
from {{ cookiecutter.module_name }}.core.logging import configure_logging
from {{ cookiecutter.module_name }}.core.telemetry import database_telemetry, telemetry_config
from {{ cookiecutter.module_name }}.db.deadline import DatabaseDeadlineMiddleware
from {{ cookiecutter.module_name }}.db.migrations import expected_revision
from {{ cookiecutter.module_name }}.db.missing_database import log_if_database_is_missing
from {{ cookiecutter.module_name }}.db.session import Database


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.effective_log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        app.state.settings = settings
        app.state.database = database
        # Off the start-up path: /readyz awaits it (record 0017).
        head = asyncio.create_task(asyncio.to_thread(expected_revision, settings.alembic_config))
        app.state.expected_revision = head
        check = None
        if settings.environment == "development":  # a fresh clone: say what is left to set up
            url = settings.database_url.get_secret_value()
            check = asyncio.create_task(log_if_database_is_missing(database, url))
        try:
{%- if cookiecutter.auth == "oidc" %}
            async with (
                database_telemetry(database),
                keys_kept_fresh(app.state.token_verifier, settings.oidc_jwks_refresh_seconds),
            ):
                yield
{%- else %}
            async with database_telemetry(database):
                yield
{%- endif %}
        finally:
            if check is not None:
                check.cancel()
            await head
            await database.dispose()

    docs = settings.api_docs_enabled
    app = FastAPI(
        title=settings.app_name,
        debug=settings.debug,
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        telemetry=telemetry_config(),
{%- if cookiecutter.auth == "oidc" %}
        # Every route needs a valid token unless it carries PUBLIC (record 0028).
        dependencies=[Depends(authenticate)],
{%- endif %}
    )
{%- if cookiecutter.auth == "oidc" %}
    app.state.token_verifier = token_verifier(settings)
{%- endif %}
    install_error_handlers(app)
    install_database_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    if settings.db_request_deadline_seconds:
        app.add_middleware(DatabaseDeadlineMiddleware, seconds=settings.db_request_deadline_seconds)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_request_body_bytes)
    if settings.max_concurrent_requests:
        app.add_middleware(
            ConcurrencyLimitMiddleware, max_requests=settings.max_concurrent_requests
        )
    app.add_middleware(RequestIdMiddleware)  # outermost: every log line of a request has its id
    add_probe_routes(app)
{%- if cookiecutter.include_example == "yes" %}
    app.include_router(items.router)
{%- endif %}
    return app


app = create_app()
