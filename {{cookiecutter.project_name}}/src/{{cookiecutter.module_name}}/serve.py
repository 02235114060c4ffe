"""The production server command: uvicorn with the settings' bind address, workers and grace.

On SIGTERM uvicorn stops accepting connections, lets in-flight requests finish for up to
SHUTDOWN_GRACE_SECONDS, then runs the lifespan's shutdown (the engine is disposed).
"""

import uvicorn

from {{ cookiecutter.module_name }}.core.config import get_settings

APP = "{{ cookiecutter.module_name }}.main:app"


def run(app: str = APP) -> None:
    settings = get_settings()
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
