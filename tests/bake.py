"""The option matrix as data, and what every tier needs to bake and run a project."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
# The baked project's folder in the template: its name is a Jinja expression (see README.md).
PROJECT_FOLDER = next(p.name for p in TEMPLATE_DIR.iterdir() if p.name.startswith("{{"))

PYTHON_VERSIONS = ("3.12", "3.13")
SWITCHES = ("yes", "no")

# Every supported combination: python_version x no_docker x include_example.
COMBINATIONS: list[dict[str, str]] = [
    {"python_version": python, "no_docker": no_docker, "include_example": example}
    for python, no_docker, example in itertools.product(PYTHON_VERSIONS, SWITCHES, SWITCHES)
]


def combination_id(context: dict[str, str]) -> str:
    docker = "nodocker" if context["no_docker"] == "yes" else "docker"
    example = "example" if context["include_example"] == "yes" else "noexample"
    return f"py{context['python_version']}-{docker}-{example}"


def combination_params(combinations: list[dict[str, str]]) -> list:
    """pytest params that keep every test of one combination on one xdist worker (one bake)."""
    import pytest

    return [
        pytest.param(c, id=combination_id(c), marks=pytest.mark.xdist_group(combination_id(c)))
        for c in combinations
    ]


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


@dataclass(frozen=True)
class Baked:
    """A baked project and the environment its tools run in."""

    path: Path
    context: dict[str, str]
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def uv(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.run(uv_binary(), *args, timeout=timeout)


def project_env(python_version: str, uv_cache: Path, extra: dict[str, str] | None = None) -> dict:
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
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


def fake_tool(bin_dir: Path, name: str, log: Path) -> None:
    """A stand-in that records every call and fails, like a client with no engine behind it."""
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 1\n')
    script.chmod(0o755)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
