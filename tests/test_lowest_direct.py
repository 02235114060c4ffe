"""Gates tier: the baked pyproject.toml's floors are honest. One combination is locked with
`--resolution lowest-direct` (every direct dependency at the lowest version its floor allows) and
passes every gate there, as the baked CI's `floors` job does."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from packaging.version import Version

from tests.bake import NAMED, Baked, combination_id, project_env
from tests.test_gates import GATES, assert_ok

# The bake with the most code: every option on.
FLOOR_COMBINATION = NAMED["service"]
FLOOR = re.compile(r"(?P<name>[A-Za-z0-9_.-]+)(\[[^\]]*\])?>=(?P<version>[0-9A-Za-z.]+)")


def declared_floors(pyproject: dict) -> dict[str, Version]:
    """Each package's floor; a package on two lines (`fastapi`, `fastapi[opentelemetry]`) has
    the higher one."""
    requirements = list(pyproject["project"]["dependencies"])
    for group in pyproject["dependency-groups"].values():
        requirements += [item for item in group if isinstance(item, str)]
    floors: dict[str, Version] = {}
    for requirement in requirements:
        match = FLOOR.match(requirement)
        assert match, f"{requirement!r} declares no floor"
        name = match["name"].lower().replace("_", "-")
        floors[name] = max(floors.get(name, Version("0")), Version(match["version"]))
    return floors


@pytest.mark.xdist_group("lowest-direct")
def test_gates_pass_at_the_declared_floors(render, uv_cache) -> None:
    path = render(**FLOOR_COMBINATION)
    env = project_env("3.12", uv_cache, {"UV_RESOLUTION": "lowest-direct"})
    project = Baked(path, FLOOR_COMBINATION, env)
    assert_ok(project.uv("lock"), "uv lock --resolution lowest-direct")
    assert_ok(project.uv("sync", "--locked"), "uv sync at the floors")

    pyproject = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
    lock = tomllib.loads((path / "uv.lock").read_text(encoding="utf-8"))
    locked = {package["name"]: package.get("version", "") for package in lock["package"]}
    # Each floor is a published version, so lowest-direct must lock exactly it.
    wrong = {
        name: (floor, locked.get(name))
        for name, floor in declared_floors(pyproject).items()
        if Version(locked.get(name) or "0") != floor
    }
    assert wrong == {}, f"{combination_id(FLOOR_COMBINATION)}: (floor, locked) {wrong}"

    for gate, args in GATES.items():
        result = project.uv(*args)
        assert_ok(result, f"{gate} at the floors")
    assert "PostgreSQL for these tests: TEST_DATABASE_URL" in result.stdout


def test_the_baked_ci_runs_the_gates_at_the_floors(render) -> None:
    path = render(**FLOOR_COMBINATION)
    workflow = (path / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    floors = yaml.safe_load(workflow)["jobs"]["floors"]
    assert floors["env"]["UV_RESOLUTION"] == "lowest-direct"
    commands = [step.get("run", "") for step in floors["steps"]]
    assert "uv lock" in commands
    for gate in ("ruff check .", "ruff format --check .", "mypy", "pytest"):
        assert f"uv run --locked {gate}" in commands, gate
