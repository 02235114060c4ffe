"""The option matrix as data, and what every tier needs to bake and run a project."""

from __future__ import annotations

import itertools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools.commands import attempt

# Re-exported: the tiers import the machine's facts from here.
from tools.machine import PROJECT_FOLDER as PROJECT_FOLDER
from tools.machine import TEMPLATE_DIR as TEMPLATE_DIR
from tools.machine import admin_database_url as admin_database_url
from tools.machine import free_port as free_port
from tools.machine import project_env as project_env
from tools.machine import python_for as python_for
from tools.machine import uv_binary as uv_binary

# The supported Pythons, as cookiecutter.json gives them to the hooks (and cruft records them).
PYTHON_VERSIONS: tuple[str, ...] = tuple(
    json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))["_python_versions"]
)
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


@dataclass(frozen=True)
class Baked:
    """A baked project and the environment its tools run in."""

    path: Path
    context: dict[str, str]
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return attempt(args, self.path, self.env, timeout)

    def uv(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.run(uv_binary(), *args, timeout=timeout)


def fake_tool(bin_dir: Path, name: str, log: Path) -> None:
    """A stand-in that records every call and fails, like a client with no engine behind it."""
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit 1\n')
    script.chmod(0o755)
