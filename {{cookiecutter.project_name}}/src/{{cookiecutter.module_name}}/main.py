"""Application factory and the ASGI app that uvicorn serves."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from {{ cookiecutter.module_name }}.api.errors import ERROR_RESPONSES, install_error_handlers
from {{ cookiecutter.module_name }}.api.request_id import RequestIdMiddleware
{%- if cookiecutter.include_example == "yes" %}
from {{ cookiecutter.module_name }}.api.routes import items
{%- endif %}
from {{ cookiecutter.module_name }}.api.routes.health import add_probe_routes
from {{ cookiecutter.module_name }}.core.config import Settings, get_settings
from {{ cookiecutter.module_name }}.core.logging import configure_logging
from {{ cookiecutter.module_name }}.core.telemetry import database_telemetry, telemetry_config
from {{ cookiecutter.module_name }}.db.migrations import expected_revision
from {{ cookiecutter.module_name }}.db.session import create_engine, create_session_factory


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.effective_log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.session_factory = create_session_factory(engine)
        app.state.expected_revision = expected_revision(settings.alembic_config)
        try:
            async with database_telemetry(engine):
                yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title=settings.app_name,
        debug=settings.debug,
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        telemetry=telemetry_config(),
    )
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestIdMiddleware)  # outermost: every log line of a request has its id
    add_probe_routes(app)
{%- if cookiecutter.include_example == "yes" %}
    app.include_router(items.router)
{%- endif %}
    return app


app = create_app()
