"""The machine as the template's tests and benchmark see it: the template folder, the Pythons a
bake uses, uv and the dev tools, the PostgreSQL server, free ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
# The baked project's folder in the template: its name is a Jinja expression that keeps any
# project_name inside the output folder (README.md, "What the hooks do").
PROJECT_FOLDER = next(p.name for p in TEMPLATE_DIR.iterdir() if p.name.startswith("{{"))
VENV_BIN = Path(sys.executable).parent


def python_for(version: str) -> str:
    """An interpreter path for uv: pyenv's shims fail outside a folder that pins the version."""
    found = shutil.which(f"python{version}")
    pyenv = shutil.which("pyenv")
    if pyenv:
        prefix = subprocess.run(
            [pyenv, "prefix", version], capture_output=True, text=True, check=False
        ).stdout.strip()
        candidate = Path(prefix) / "bin" / f"python{version}"
        if prefix and candidate.exists():
            return str(candidate)
    if found:
        return found
    raise LookupError(f"no Python {version} found")


def uv_binary() -> str:
    found = shutil.which("uv")
    if found is None:
        raise LookupError("uv is not on PATH: run the tests with `uv run pytest`")
    return found


def project_env(python_version: str, uv_cache: Path, extra: dict[str, str] | None = None) -> dict:
    # Never the template's hook mode: a session fixture sets it, and a bake run with this
    # environment must choose its own.
    drop = {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "FASTAPI_TEMPLATE_MODE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        {
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_PYTHON": python_for(python_version),
            "UV_CACHE_DIR": str(uv_cache),
            "TEST_DATABASE_URL": admin_database_url(),
        }
    )
    env.update(extra or {})
    return env


def admin_database_url() -> str:
    """The server the template's tests use; tests create and drop their own databases on it."""
    default = "postgresql://postgres@127.0.0.1:5432/postgres"
    return os.environ.get("TEMPLATE_TEST_DATABASE_URL", default)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tool(name: str) -> str:
    """A tool from the template's venv (installed by `uv sync`), else from PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise LookupError(f"{name} is neither in {VENV_BIN} nor on PATH: run `uv sync`")
    return found
