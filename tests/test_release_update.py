"""cruft tier: a project baked from a previous release, edited by its team, updates to this
release (the template repository's HEAD, committed state) cleanly.

The drill clones this repository, puts the clone at the release's commit, bakes with `cruft
create`, makes a team's edits (a route module wired into main.py, its test, a README paragraph,
a dependency), moves the clone to HEAD, runs `cruft update -y`, applies the "After updating"
step of every CHANGELOG entry newer than the release, and then requires: no rejected hunk, no
conflict, the team's edits intact, every gate green, `cruft check` green. Uncommitted changes are
not part of HEAD: commit before running it.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bake import TEMPLATE_DIR, project_env
from tests.cruft_drill import (
    DEPENDENCY,
    INCLUDE_ROUTER,
    README_PARAGRAPH,
    RENDER_ONLY,
    ROUTE_FILE,
    TEST_FILE,
    add_route_test_readme_and_dependency,
    attempt,
    cruft_in,
    drill_env,
    failed_gates,
    git_commit_all,
    git_init_and_commit,
    rejected_hunks,
    run,
    tool,
)

# Every published release, by the commit it was cut from: projects baked from each of them must
# update cleanly to every later release. 0.1.0 is the first published state (tag v0.1.0).
RELEASES = {"0.1.0": "e79d4ba"}
PROJECT_NAME = "orders-api"
MODULE = "orders_api"
PYTHON = "3.12"
CONTEXT = {"project_name": PROJECT_NAME, "python_version": PYTHON, "include_example": "yes"}
MANUAL_STEPS = "- After updating to this release: "
TEAM_EDITS = (
    ("README.md", README_PARAGRAPH),
    (f"src/{MODULE}/main.py", INCLUDE_ROUTER),
    (f"src/{MODULE}/main.py", ", reports\n"),
    (f"src/{MODULE}/api/routes/reports.py", ROUTE_FILE),
    ("tests/test_reports.py", TEST_FILE),
    ("pyproject.toml", f'"{DEPENDENCY}"'),
)
TEAM_FILES = {path for path, _ in TEAM_EDITS} | {"uv.lock"}
CONFLICT = re.compile(r"^(<<<<<<<|>>>>>>>) ", re.MULTILINE)


# ---------------------------------------------------------------- the CHANGELOG's manual steps


def steps_after(version: str) -> list[str]:
    """The "After updating" step of every CHANGELOG entry newer than `version`, oldest first,
    each with its continuation lines (indented under it) joined to it."""
    changelog = (TEMPLATE_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    steps: list[str] = []
    for entry in changelog.split("\n## ")[1:]:
        if entry.startswith(f"{version} "):
            return steps[::-1]
        step = re.search(rf"^{re.escape(MANUAL_STEPS)}(.*(?:\n  .*)*)", entry, re.MULTILINE)
        if step:
            steps.append(" ".join(step[1].split()))
    raise AssertionError(f"CHANGELOG.md has no entry for {version}")


def apply_step(step: str, project: Path, tools: dict[str, str]) -> list[str]:
    """Do what one "After updating" line says; return what was done. Understood: `uv …`
    commands, `NAME=value` lines for .env, a `NAME` to copy from .env.example into .env."""
    done = []
    for fragment in re.findall(r"`([^`]+)`", step):
        if fragment.startswith("uv "):
            run([tool("uv"), *fragment.split()[1:]], project, tools)
        elif re.fullmatch(r"[A-Z][A-Z0-9_]*=\S*", fragment):
            add_env_line(project, fragment)
        elif re.fullmatch(r"[A-Z][A-Z0-9_]*", fragment):
            add_env_line(project, example_line(project, fragment))
        else:
            continue  # a file name, e.g. `.env.example`
        done.append(fragment)
    if not done and not step.lower().startswith("nothing to do"):
        raise AssertionError(f"the drill cannot apply {step!r}: write it with `…` commands")
    return done


def update_command(steps: list[str]) -> list[str]:
    """The `cruft update …` an "After updating" step asks for, run in place of a plain one: an
    update's new inputs take their defaults unless the command names them (auth=none)."""
    for step in steps:
        for fragment in re.findall(r"`([^`]+)`", step):
            if fragment.startswith("cruft update"):
                return [*shlex.split(fragment)[1:], "-y"]
    return ["update", "-y"]


def example_line(project: Path, name: str) -> str:
    """The setting's line in .env.example, as it stands there (commented out or not)."""
    lines = (project / ".env.example").read_text(encoding="utf-8").splitlines()
    found = [line for line in lines if re.match(rf"#? ?{name}=", line)]
    assert found, f".env.example has no {name}= line, which CHANGELOG.md says to copy"
    return found[0]


def add_env_line(project: Path, line: str) -> None:
    with (project / ".env").open("a", encoding="utf-8") as env_file:
        env_file.write(f"{line}\n")


def test_steps_after_reads_every_newer_entry() -> None:
    """The reader itself: the newest entry's step is last, the release's own entry is excluded."""
    changelog = (TEMPLATE_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (\S+) ", changelog, flags=re.MULTILINE)
    oldest = headings[-1]
    assert len(steps_after(oldest)) == len(headings) - 1
    assert steps_after(headings[0]) == []
    newest = steps_after(oldest)[-1]
    assert "\n" not in newest
    assert "`uv run python alembic/merge_heads.py`" in newest  # from a continuation line


# ---------------------------------------------------------------- the drill


@dataclass(frozen=True)
class Updated:
    project: Path
    tools: dict[str, str]
    head: str
    update: subprocess.CompletedProcess[str]
    check_before: subprocess.CompletedProcess[str]
    applied: list[str]


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo, drill_env()).stdout.strip()


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(item, id=f"from-{item[0]}", marks=pytest.mark.xdist_group("release-update"))
        for item in RELEASES.items()
    ],
)
def updated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, uv_cache: Path
) -> Updated:
    version, commit = request.param
    root = tmp_path_factory.mktemp(f"release-{version}")
    env = drill_env()
    template = root / "template"
    run(["git", "clone", "-q", str(TEMPLATE_DIR), str(template)], root, env)
    head = git(template, "rev-parse", "HEAD")
    found = attempt(["git", "cat-file", "-e", f"{commit}^{{commit}}"], template, env)
    assert found.returncode == 0, f"{commit} (release {version}) is not in this clone's history"
    git(template, "reset", "-q", "--hard", commit)  # the template as it was published

    create = [
        tool("cruft"),
        "create",
        "--no-input",
        str(template),
        "--output-dir",
        str(root / "out"),
    ]
    create += ["--extra-context", json.dumps(CONTEXT)]
    run(create, root, drill_env(RENDER_ONLY))
    project = root / "out" / PROJECT_NAME
    tools = project_env(PYTHON, uv_cache)
    run([tool("uv"), "lock"], project, tools)  # what the release's hook does on a first bake
    git_init_and_commit(project, env, f"baked from fastapi-service-template {version}")
    add_route_test_readme_and_dependency(project, MODULE, tools)
    git_commit_all(project, env, "the team's edits")

    git(template, "reset", "-q", "--hard", head)  # the template moves on to this release
    check_before = cruft_in(project, env, "check")
    update = cruft_in(project, env, *update_command(steps_after(version)))
    applied = [done for step in steps_after(version) for done in apply_step(step, project, tools)]
    return Updated(project, tools, head, update, check_before, applied)


def test_the_update_command_comes_from_the_changelog() -> None:
    assert update_command(steps_after("0.1.0")) == [
        "update",
        "--variables-to-update",
        '{"auth": "none"}',
        "-y",
    ]


def test_a_project_from_before_auth_updates_to_auth_none(updated: Updated) -> None:
    """No 401s and no refused start-up: the team's route and its test run as before (the gates
    below), with no auth package and auth=none recorded for the next update."""
    cruft = json.loads((updated.project / ".cruft.json").read_text(encoding="utf-8"))
    assert cruft["context"]["cookiecutter"]["auth"] == "none"
    assert not (updated.project / "src" / MODULE / "auth").exists()
    assert "OIDC_" not in (updated.project / ".env.example").read_text(encoding="utf-8")


def test_cruft_check_saw_the_release_behind(updated: Updated) -> None:
    assert updated.check_before.returncode == 1, updated.check_before.stdout


def test_update_applies_without_rejected_hunks(updated: Updated) -> None:
    output = updated.update.stdout + updated.update.stderr
    assert updated.update.returncode == 0, output
    assert "Failed to apply the update" not in output, output  # cruft fell back to --reject
    assert rejected_hunks(updated.project) == []


def conflicted_files(project: Path) -> list[str]:
    return sorted(
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file()
        and ".git" not in path.relative_to(project).parts
        and CONFLICT.search(path.read_text(encoding="utf-8", errors="replace"))
    )


def test_no_conflict_in_files_the_team_did_not_touch(updated: Updated) -> None:
    assert [path for path in conflicted_files(updated.project) if path not in TEAM_FILES] == []


def test_the_team_edits_are_intact(updated: Updated) -> None:
    lost = [
        (path, text)
        for path, text in TEAM_EDITS
        if text not in (updated.project / path).read_text(encoding="utf-8")
    ]
    assert lost == []
    assert [path for path in conflicted_files(updated.project) if path in TEAM_FILES] == []


def test_the_project_records_this_release(updated: Updated) -> None:
    state = (updated.project / ".cruft.json").read_text(encoding="utf-8")
    assert f'"commit": "{updated.head}"' in state


def test_every_gate_is_green_after_the_manual_steps(updated: Updated) -> None:
    print(f"\nmanual steps applied: {updated.applied or 'none'}")
    assert failed_gates(updated.project, updated.tools) == []


def test_cruft_check_is_green_after_the_update(updated: Updated) -> None:
    result = cruft_in(updated.project, drill_env(), "check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_apply_step_does_what_the_line_names_and_refuses_prose(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("", encoding="utf-8")
    (tmp_path / ".env.example").write_text("# OTEL_X=1\nA=2\n", encoding="utf-8")
    assert apply_step("nothing to do (first release).", tmp_path, {}) == []
    step = "copy `A` and `OTEL_X` from `.env.example` into `.env`, and add `B=3`."
    assert apply_step(step, tmp_path, {}) == ["A", "OTEL_X", "B=3"]
    assert (tmp_path / ".env").read_text(encoding="utf-8") == "A=2\n# OTEL_X=1\nB=3\n"
    with pytest.raises(AssertionError, match="cannot apply"):
        apply_step("restart the pods by hand.", tmp_path, {})


def test_the_update_leaves_background_jobs_off(updated: Updated) -> None:
    """An input newer than the release takes its default, `no`: jobs stay off (record 0031)."""
    state = json.loads((updated.project / ".cruft.json").read_text(encoding="utf-8"))
    assert state["context"]["cookiecutter"]["background_jobs"] == "no"
    assert not (updated.project / "src" / MODULE / "jobs").exists()
    assert not (updated.project / "src" / MODULE / "worker.py").exists()
