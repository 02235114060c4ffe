"""Hooks tier: the post-gen hook picks the mode that fits the machine and reports honestly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.bake import TEMPLATE_DIR, admin_database_url, fake_tool, python_for
from tests.cruft_drill import GIT_IDENTITY, drill_env, template_repo
from tools.database import throwaway_database

CONTAINER_STEPS = (
    "docker build",
    "docker compose up",
    "docker compose ps",
    "smoke request",
    "docker compose down",
)


def bake(
    tmp_path: Path, env_extra: dict[str, str], *context: str, template: str = str(TEMPLATE_DIR)
) -> tuple[Path, dict, str]:
    """Bake through the cookiecutter CLI with the hook in charge; return project, report, output."""
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(
        {
            "FASTAPI_TEMPLATE_MODE": "auto",
            "FASTAPI_TEMPLATE_REPORT": str(report),
            "TEST_DATABASE_URL": admin_database_url(),
            "UV_PYTHON_DOWNLOADS": "never",
        }
    )
    env.update(env_extra)
    cookiecutter = shutil.which("cookiecutter")
    assert cookiecutter
    out = tmp_path / "out"
    # Where cookiecutter clones a template given as a repository URL: not the home folder.
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {tmp_path / 'clones'}\nreplay_dir: {tmp_path / 'replay'}\n"
    )
    result = subprocess.run(
        [
            cookiecutter,
            "--no-input",
            "--config-file",
            str(config),
            "-o",
            str(out),
            template,
            *context,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return out / "my-service", json.loads(report.read_text()), output


PARALLEL_STEPS = {"mypy --strict", "pytest", "alembic upgrade head"}


def statuses(report: dict) -> dict[str, str]:
    return {step["name"]: step["status"] for step in report["steps"]}


def test_local_no_docker_runs_every_check_for_real(tmp_path: Path) -> None:
    """Through the entry point users use: cookiecutter given a git repository of the template
    (a local one stands in for gh:org/repo), which it clones."""
    repository = template_repo(tmp_path / "template", drill_env())
    with throwaway_database() as database_url:
        # An empty database stands in for a development database the hook would create.
        project, report, output = bake(
            tmp_path,
            {"UV_PYTHON": python_for("3.12"), **GIT_IDENTITY},
            "no_docker=yes",
            "include_example=no",
            f"database_url={database_url}",
            template=f"git+file://{repository}",
        )
    assert (tmp_path / "clones" / "template" / ".git").is_dir()
    assert report["mode"] == "local-no-docker"
    expected = {
        "uv lock",
        "uv sync",
        "ruff check",
        "ruff format --check",
        "mypy --strict",
        "pytest",
        "alembic upgrade head",
        "create development db",
        "migrate development db",
        "first git commit",
    }
    assert statuses(report) == dict.fromkeys(expected, "passed")
    # The independent checks ran at the same time: each started before the others ended.
    together = [s for s in report["steps"] if s["name"] in PARALLEL_STEPS]
    assert len(together) == len(PARALLEL_STEPS)
    assert max(s["started"] for s in together) < min(s["started"] + s["seconds"] for s in together)
    assert (project / "uv.lock").is_file()
    assert (project / ".venv").is_dir()
    assert "10 passed, 0 failed, 0 skipped" in output
    log = subprocess.run(["git", "log", "--format=%s"], cwd=project, capture_output=True, text=True)
    assert log.stdout == "Bake the project from fastapi-service-template\n"


def test_without_uv_the_mode_is_offline_smoke_and_nothing_unrun_passes(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "sh"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    # And git without an identity: no commit, the report says what to run; the bake succeeds.
    project, report, output = bake(
        tmp_path, {"PATH": str(bin_dir), "GIT_CONFIG_GLOBAL": os.devnull}
    )
    assert report["mode"] == "offline-smoke"
    assert "uv" in report["why"]
    steps = statuses(report)
    assert steps.pop("compileall src") == "passed"
    assert steps.pop("Docker artefacts present") == "passed"
    assert set(steps.values()) == {"skipped"}
    assert {"uv lock", "pytest", "mypy --strict", "first git commit"} <= set(steps)
    for step in report["steps"]:
        if step["status"] == "skipped" and step["name"] != "first git commit":
            assert step["reason"]
            assert step["command"][0] == "uv"
    commit = next(step for step in report["steps"] if step["name"] == "first git commit")
    assert "identity" in commit["reason"]
    assert "run later: git add -A && git commit -m" in output
    assert not (project / ".venv").exists()
    assert not (project / "uv.lock").exists()
    assert "run later: uv run pytest" in output


def test_without_a_docker_engine_container_steps_are_skipped_not_passed(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "docker-calls.log"
    fake_tool(bin_dir, "docker", calls)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    # The container steps do not depend on the other options: the smallest bake with Docker.
    smallest = ("include_example=no", "auth=none", "background_jobs=no")
    _, report, output = bake(tmp_path, {"PATH": path, "UV_PYTHON": python_for("3.12")}, *smallest)
    assert report["mode"] == "production-default"
    steps = statuses(report)
    for name in CONTAINER_STEPS:
        assert steps[name] == "skipped"
    skipped = [s for s in report["steps"] if s["name"] in CONTAINER_STEPS]
    assert all(s["reason"] == "no Docker engine answers" for s in skipped)
    # What a person runs later on this project: in order, its own compose name, a tear-down.
    assert [s["name"] for s in skipped] == list(CONTAINER_STEPS)
    assert not any("-p" in s["command"] for s in skipped)
    assert "run later: docker compose down" in output
    assert report["next_steps"][1].startswith("uv run pytest")
    assert report["next_steps"][-1].startswith("docker compose up")
    assert steps["pytest"] == "passed"
    # The hook asked the engine (docker info) and never tried to build or start anything.
    assert {line.split()[1] for line in calls.read_text().splitlines()} == {"info"}


def test_without_the_package_index_nothing_after_the_lock_passes(tmp_path: Path) -> None:
    """No network and an empty cache: uv cannot lock, so every later step is skipped, not passed."""
    env = {
        "UV_OFFLINE": "1",
        "UV_CACHE_DIR": str(tmp_path / "empty-cache"),
        "UV_PYTHON": python_for("3.12"),
        "GIT_CONFIG_GLOBAL": os.devnull,  # no identity: the first commit is skipped too
    }
    _, report, output = bake(tmp_path, env, "no_docker=yes")
    steps = statuses(report)
    assert steps.pop("uv lock") == "failed"
    assert set(steps.values()) == {"skipped"}
    assert "0 passed, 1 failed" in output


@pytest.mark.parametrize("strict", ["1", ""], ids=["strict", "default"])
def test_strict_mode_fails_the_bake_when_a_step_fails(tmp_path: Path, strict: str) -> None:
    """No index and an empty cache: `uv lock` fails. Strict mode turns that failed step into a
    failed bake, with no traceback; the same run without it keeps the project and exits 0."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    report_file = tmp_path / "report.json"
    env.update(
        {
            "FASTAPI_TEMPLATE_MODE": "local-no-docker",
            "FASTAPI_TEMPLATE_STRICT": strict,
            "FASTAPI_TEMPLATE_REPORT": str(report_file),
            "UV_OFFLINE": "1",
            "UV_CACHE_DIR": str(tmp_path / "empty-cache"),
        }
    )
    cookiecutter = shutil.which("cookiecutter")
    assert cookiecutter
    result = subprocess.run(
        [cookiecutter, "--no-input", "-o", str(tmp_path / "out"), str(TEMPLATE_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert statuses(json.loads(report_file.read_text()))["uv lock"] == "failed"
    assert "[ failed] uv lock" in result.stdout
    if strict:
        assert result.returncode != 0
        # cookiecutter logs its own FailedHookException after this line; a crash of the hook
        # itself would print its traceback before it.
        hook_output, _, cookiecutter_says = output.partition("Stopping generation")
        assert "Traceback" not in hook_output, output
        assert "Hook script failed (exit status: 1)" in cookiecutter_says
    else:
        assert "Traceback" not in output, output
        assert result.returncode == 0, output
        assert (tmp_path / "out" / "my-service" / "pyproject.toml").is_file()
