"""What every tier needs to bake and run a project (the option matrix is tests/matrix.py)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

# Re-exported: the option matrix, which every tier selects its bakes from.
from tests.matrix import ALL_COMBINATIONS as ALL_COMBINATIONS
from tests.matrix import MATRIX as MATRIX
from tests.matrix import NAMED as NAMED
from tests.matrix import PYTHON_VERSIONS as PYTHON_VERSIONS
from tests.matrix import bakes_where as bakes_where
from tests.matrix import combination_id as combination_id
from tests.matrix import named_once_per as named_once_per
from tests.matrix import named_where as named_where
from tools.commands import attempt

# Re-exported: the tiers import the machine's facts from here.
from tools.machine import PROJECT_FOLDER as PROJECT_FOLDER
from tools.machine import TEMPLATE_DIR as TEMPLATE_DIR
from tools.machine import admin_database_url as admin_database_url
from tools.machine import free_port as free_port
from tools.machine import project_env as project_env
from tools.machine import python_for as python_for
from tools.machine import uv_binary as uv_binary


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
