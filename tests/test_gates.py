"""Gates tier: every combination's baked project passes its own gates, through its own tools."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.bake import Baked, combination_params, named_where
from tools.database import throwaway_database

GATES = {
    "uv lock --check": ("lock", "--check"),
    "ruff check": ("run", "--locked", "ruff", "check", "."),
    "ruff format --check": ("run", "--locked", "ruff", "format", "--check", "."),
    "mypy --strict": ("run", "--locked", "mypy"),
    "pytest": ("run", "--locked", "pytest", "-q", "-p", "no:cacheprovider"),
}


def assert_ok(result, what: str) -> None:
    assert result.returncode == 0, f"{what} failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("gate", GATES, ids=list(GATES))
def test_gate_passes(baked: Baked, gate: str) -> None:
    result = baked.uv(*GATES[gate])
    assert_ok(result, gate)
    if gate == "pytest":
        assert "PostgreSQL for these tests: TEST_DATABASE_URL" in result.stdout
        assert " passed" in result.stdout
        assert "skipped" not in result.stdout


def test_alembic_round_trip_and_drift_check(baked: Baked) -> None:
    with throwaway_database() as url:
        env = {**baked.env, "DATABASE_URL": url}
        project = Baked(baked.path, baked.context, env)
        for args in (("upgrade", "head"), ("downgrade", "base"), ("upgrade", "head"), ("check",)):
            assert_ok(project.uv("run", "--locked", "alembic", *args), f"alembic {' '.join(args)}")
        heads = project.uv("run", "--locked", "alembic", "heads")
        assert_ok(heads, "alembic heads")
        (head,) = heads.stdout.splitlines()  # one chain for every combination (record 0027)
        assert head.endswith(" (head)"), heads.stdout
        current = project.uv("run", "--locked", "alembic", "current")
        assert head in current.stdout + current.stderr


# The named laptop bake: everything on but Docker, so the whole suite meets the embedded server.
LAPTOP = named_where(no_docker="yes")[:1]


@pytest.mark.parametrize("baked", combination_params(LAPTOP), indirect=True)
def test_tests_fall_back_to_an_embedded_postgres(baked: Baked) -> None:
    """A laptop with no server and no Docker: the suite starts PostgreSQL 16 from a wheel."""
    env = {k: v for k, v in baked.env.items() if k != "TEST_DATABASE_URL"}
    env["DATABASE_URL"] = "postgresql+asyncpg://app:app@127.0.0.1:1/unreachable"
    # As root, the embedded server runs its binaries as an unprivileged user, which cannot reach
    # a venv under pytest's 0700 /tmp/pytest-of-root: give this run a venv it can reach.
    venv = Path(tempfile.mkdtemp(prefix="embedded-pg-venv-"))
    env["UV_PROJECT_ENVIRONMENT"] = str(venv / ".venv")
    try:
        project = Baked(baked.path, baked.context, env)
        assert_ok(project.uv("sync", "--locked"), "uv sync")
        result = project.uv(*GATES["pytest"])
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    assert_ok(result, "pytest on the embedded PostgreSQL")
    assert "embedded PostgreSQL 16" in result.stdout
