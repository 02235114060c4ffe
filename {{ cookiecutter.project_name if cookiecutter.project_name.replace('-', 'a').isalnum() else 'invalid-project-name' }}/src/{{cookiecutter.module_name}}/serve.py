"""The production server command: uvicorn with the settings' bind address, workers and grace.

On SIGTERM uvicorn stops accepting connections, lets in-flight requests finish for up to
SHUTDOWN_GRACE_SECONDS, then runs the lifespan's shutdown (the engine is disposed).
"""

import os
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from {{ cookiecutter.module_name }}.core.config import Settings, get_settings

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


def run(app: str = APP) -> None:
    enter_project_folder()
    settings = settings_or_exit()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        server_header=False,
        access_log=settings.access_log,
        log_config=None,  # create_app configures logging for the app and uvicorn alike
    )


if __name__ == "__main__":
    run()
