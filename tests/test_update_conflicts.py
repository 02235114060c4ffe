"""cruft tier: a template update that conflicts is never silent in the project. cruft itself exits
0 on a conflict, leaving `<<<<<<<` markers (its three-way merge) or `*.rej` files (its fallback
when the merge base is not in the repository); the baked README's update recipe, a commit through
the git hooks and the CI step each fail on either, and the CI step passes on the project before."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.bake import project_env, uv_binary
from tests.cruft_drill import (
    GIT_IDENTITY,
    RENDER_ONLY,
    attempt,
    cruft_create,
    cruft_in,
    drill_env,
    git_commit_all,
    git_init_and_commit,
    rejected_hunks,
    run,
    template_repo,
)
from tests.user_session import code_block

PROJECT_NAME = "billing-api"
PYTHON = "3.12"
CONTEXT = {"project_name": PROJECT_NAME, "python_version": PYTHON, "no_docker": "yes"}
DESCRIPTION = "A FastAPI service."  # the README's third line, from the description's default
TEAM_LINE = "Billing: customers and invoices, owned by the billing team.\n"
TEMPLATE_LINE = "{{ cookiecutter.description }} Template v2 says more here.\n"
CI_STEP = "No conflict markers or rejected hunks"


@dataclass(frozen=True)
class Conflicted:
    case: str  # markers | rejects
    project: Path
    env: dict[str, str]
    update: subprocess.CompletedProcess[str]
    ci_before: subprocess.CompletedProcess[str]


def replace_line(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path}: no line {old!r}; update the drill"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def ci_step(project: Path) -> str:
    workflow = yaml.safe_load((project / ".github/workflows/ci.yml").read_text(encoding="utf-8"))
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    [step] = [step for step in steps if step.get("name") == CI_STEP]
    assert "continue-on-error" not in step
    return str(step["run"])


def run_ci_step(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """As GitHub runs a `run:` step on Linux: `bash -e`."""
    return attempt(["bash", "-e", "-c", ci_step(project)], project, env, timeout=600)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(case, id=case, marks=pytest.mark.xdist_group(f"conflict-{case}"))
        for case in ("markers", "rejects")
    ],
)
def conflicted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, uv_cache: Path
) -> Conflicted:
    """A project whose README line the team and template v2 both changed, after `cruft update`.
    `rejects`: the team changed it before the first commit, so the merge base is not in git."""
    root = tmp_path_factory.mktemp(f"conflict-{request.param}")
    git = drill_env()
    template = template_repo(root / "template", git)
    cruft_create(template, root / "out", drill_env(RENDER_ONLY), CONTEXT)
    project = root / "out" / PROJECT_NAME
    env = {
        **project_env(PYTHON, uv_cache),
        **GIT_IDENTITY,
        "PRE_COMMIT_HOME": str(root / "pre-commit-home"),
    }
    run([uv_binary(), "lock"], project, env)  # what the hook does on a real first bake
    readme = project / "README.md"
    if request.param == "rejects":
        replace_line(readme, f"{DESCRIPTION}\n", TEAM_LINE)
        git_init_and_commit(project, git, "baked, and our README")
    else:
        git_init_and_commit(project, git, "baked from template v1")
        replace_line(readme, f"{DESCRIPTION}\n", TEAM_LINE)
        git_commit_all(project, git, "our README")
    ci_before = run_ci_step(project, env)

    folder = next(path for path in template.iterdir() if path.name.startswith("{{"))
    replace_line(folder / "README.md", "{{ cookiecutter.description }}\n", TEMPLATE_LINE)
    git_commit_all(template, git, "template v2")
    update = cruft_in(project, git, "update", "-y")
    return Conflicted(request.param, project, env, update, ci_before)


def test_cruft_itself_reports_success(conflicted: Conflicted) -> None:
    """Why the project must catch it: the update exits 0 with a conflict in the tree."""
    assert conflicted.update.returncode == 0, conflicted.update.stderr
    readme = (conflicted.project / "README.md").read_text(encoding="utf-8").splitlines()
    markers = [line for line in readme if line.startswith("<<<<<<< ")]
    if conflicted.case == "rejects":
        assert rejected_hunks(conflicted.project) == ["README.md.rej"]
        assert markers == []  # a .rej file holds no markers
    else:
        assert rejected_hunks(conflicted.project) == []
        assert "with conflicts" in conflicted.update.stdout + conflicted.update.stderr
        assert len(markers) == 1


def test_the_ci_step_passes_before_the_update(conflicted: Conflicted) -> None:
    result = conflicted.ci_before
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout or "Skipped" in result.stdout


def test_the_readme_recipe_shows_the_conflict(conflicted: Conflicted) -> None:
    commands = code_block(conflicted.project / "README.md", "## Keep up with the template")
    after_update = [line for line in commands if "cruft update" not in line and line != "uv lock"]
    assert any("pre-commit run" in line for line in after_update), commands
    results = [
        attempt(["bash", "-c", line], conflicted.project, conflicted.env, timeout=600)
        for line in after_update
    ]
    failed = [result for result in results if result.returncode != 0]
    assert len(failed) == 1, [(r.args, r.returncode, r.stdout[-500:]) for r in results]
    assert "README.md" in failed[0].stdout


def test_a_commit_through_the_git_hooks_is_refused(conflicted: Conflicted) -> None:
    project, env = conflicted.project, conflicted.env
    run([uv_binary(), "run", "--locked", "pre-commit", "install"], project, env)
    run(["git", "add", "-A"], project, env)
    head = run(["git", "rev-parse", "HEAD"], project, env).stdout
    commit = attempt(["git", "commit", "-m", "template update"], project, env, timeout=600)
    output = commit.stdout + commit.stderr  # git prints the hooks' lines on stderr
    assert commit.returncode != 0, output
    assert "README.md" in output
    assert "does not match the project environment" not in output  # uv, under pre-commit
    assert run(["git", "rev-parse", "HEAD"], project, env).stdout == head


def test_the_ci_step_fails_on_the_conflict(conflicted: Conflicted) -> None:
    project, env = conflicted.project, conflicted.env
    run(["git", "add", "-A"], project, env)  # CI sees what was committed
    result = run_ci_step(project, env)
    assert result.returncode != 0, result.stdout
    assert "README.md" in result.stdout
