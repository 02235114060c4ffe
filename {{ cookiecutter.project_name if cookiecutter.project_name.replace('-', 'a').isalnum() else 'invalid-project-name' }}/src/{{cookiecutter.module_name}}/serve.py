"""The production server command: uvicorn with the settings' bind address, workers, limits
and grace (records 0014 and 0025).

On SIGTERM the listening socket is closed (new connections are refused), connections already
accepted are answered, in-flight requests finish within SHUTDOWN_GRACE_SECONDS, then the
lifespan's shutdown runs (the engine is disposed). WORKERS > 1 runs a supervisor over the
workers (server/supervisor.py).
"""

import functools
import os
import socket
import sys
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from {{ cookiecutter.module_name }}.core.config import Settings, get_settings
from {{ cookiecutter.module_name }}.core.logging import configure_logging
from {{ cookiecutter.module_name }}.server.draining import DrainingServer
from {{ cookiecutter.module_name }}.server.protocol import HeadLimits, bounded_protocol
from {{ cookiecutter.module_name }}.server.supervisor import Supervisor, stop_when_the_supervisor_dies

APP = "{{ cookiecutter.module_name }}.main:app"
# src/{{ cookiecutter.module_name }}/serve.py -> the project folder, when run from a checkout.
CHECKOUT = Path(__file__).resolve().parents[2]


def enter_project_folder() -> None:
    """Run from a checkout, the server reads `.env` and `alembic.ini` from its project folder
    wherever it was started; an installed package (the image) keeps the working directory."""
    if (CHECKOUT / "alembic.ini").is_file() and (CHECKOUT / "pyproject.toml").is_file():
        os.chdir(CHECKOUT)


def settings_or_exit() -> Settings:
    """The settings, or exit 1 with what to fix: an operator needs the setting, not a traceback."""
    try:
        return get_settings()
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']).upper() or 'settings'}: "
            + problem["msg"].removeprefix("Value error, ")
            for problem in error.errors()
        ]
        raise SystemExit("not starting, invalid settings:\n  " + "\n  ".join(problems)) from None


def uvicorn_config(settings: Settings, app: str) -> uvicorn.Config:
    limits = HeadLimits(settings.max_request_head_bytes, settings.request_head_timeout_seconds)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=bounded_protocol(limits),
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        access_log=settings.access_log,
        log_config=None,  # create_app configures logging for the app and uvicorn alike
    )


def serve_worker(app: str, listener: socket.socket) -> None:
    """One server process on a socket bound by the caller (a worker of the supervisor)."""
    stop_when_the_supervisor_dies()
    enter_project_folder()
    DrainingServer(uvicorn_config(settings_or_exit(), app)).run(sockets=[listener])


def run(app: str = APP) -> None:
    enter_project_folder()
    settings = settings_or_exit()
    config = uvicorn_config(settings, app)
    configure_logging(settings.log_level, settings.effective_log_format)
    listener = config.bind_socket()
    if settings.workers == 1:
        DrainingServer(config).run(sockets=[listener])
        return
    supervisor = Supervisor(
        settings.workers,
        functools.partial(serve_worker, app),
        listener,
        grace_seconds=settings.shutdown_grace_seconds,
    )
    sys.exit(supervisor.run())


if __name__ == "__main__":
    run()
