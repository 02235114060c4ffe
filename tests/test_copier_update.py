"""copier tier: the update drill. `copier copy` bakes a project from the first commit that has
copier.yml (tagged in a throwaway clone), with the hooks in charge as Copier tasks (checklist,
report, development database, first commit); its team edits it; the template moves on in the
clone; `copier update --vcs-ref HEAD` brings the changes in, keeps every edit and the files the
project owns, does no environment work, and the project passes its own gates. Last, a template
change to a line the team changed too: Copier's inline markers, and its `.rej` files, are refused
by the git hooks and the CI step as cruft's are."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import yaml

from tests.bake import PROJECT_FOLDER, admin_database_url, project_env, uv_binary
from tests.copier_drill import ANSWERS_FILE, clone_at_head, copier_copy, copier_in
from tests.cruft_drill import (
    GIT_IDENTITY,
    NO_NETWORK,
    attempt,
    drill_env,
    failed_gates,
    git_commit_all,
    rejected_hunks,
    run,
    with_stand_ins,
)
from tests.test_cruft_update import (
    ENV_LINE,
    PROJECT_NAME,
    PYTHON,
    USER_EDITS,
    USER_OWNED,
    edit_as_the_team,
    move_template_forward,
    template_changes,
)
from tests.test_update_conflicts import (
    DESCRIPTION,
    TEAM_LINE,
    TEMPLATE_LINE,
    replace_line,
    run_ci_step,
)
from tests.user_session import code_block
from tools.database import drop_database
from tools.machine import tool

FIRST_TAG = "copier-first"
UVX_COPIER = "uvx --with copier-template-extensions copier"
UPDATE = "copier update"
TEAM_RECORD = "docs/decisions/team/0001-orders-are-immutable.md"
TEAM_INDEX_LINE = "- [0001](0001-orders-are-immutable.md) Orders are never edited in place\n"
TEMPLATE_TEAM_INDEX_LINE = "A line template v2 adds to the team's index, which it must not get.\n"


@dataclass(frozen=True)
class Drill:
    project: Path
    template: Path
    tools: dict[str, str]  # real uv, the shared cache, the test database: for the gates
    bake: subprocess.CompletedProcess[str]
    report: dict
    first_commit: list[str]  # the files the bake's first commit holds
    update: subprocess.CompletedProcess[str]
    calls: list[str]  # uv and docker calls made while Copier updated
    owned_before: dict[str, bytes]
    owned_after: dict[str, bytes]


def owned(project: Path) -> dict[str, bytes]:
    """The files the project owns: uv.lock, .env and the team's own records."""
    paths = [*USER_OWNED, *(p.relative_to(project).as_posix() for p in team_records(project))]
    return {path: (project / path).read_bytes() for path in paths}


def team_records(project: Path) -> list[Path]:
    return sorted((project / "docs" / "decisions" / "team").rglob("*"))


def readme_copier_update(project: Path) -> list[str]:
    """The `copier update` command the baked README gives, run with the tools venv's copier."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Keep up with the template\n", 1)[1].split("\n## ", 1)[0]
    prose = re.sub(r"```.*?```", "", section, flags=re.DOTALL).replace("\n", " ")
    [command] = [c for c in re.findall(r"`([^`]+)`", prose) if UPDATE in c]
    assert command.startswith(f"{UVX_COPIER} "), command
    return [tool("copier"), *shlex.split(command.removeprefix(f"{UVX_COPIER} "))]


def first_copier_commit(template: Path, env: dict[str, str]) -> str:
    added = run(["git", "log", "--diff-filter=A", "--format=%H", "--", "copier.yml"], template, env)
    return added.stdout.split()[-1]


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> Iterator[Drill]:
    root = tmp_path_factory.mktemp("copier-update")
    git = drill_env()
    template = clone_at_head(root / "template", git)
    run(["git", "tag", FIRST_TAG, first_copier_commit(template, git)], template, git)

    database = f"copier_drill_{uuid.uuid4().hex[:12]}"
    admin = urlsplit(admin_database_url())
    database_url = urlunsplit(admin._replace(scheme="postgresql+asyncpg", path=f"/{database}"))
    tools = project_env(PYTHON, uv_cache)
    report_file = root / "report.json"
    # The hooks in charge: mode auto (local-no-docker here), strict, with a report.
    bake_env = {
        **drill_env(tools),
        "FASTAPI_TEMPLATE_STRICT": "1",
        "FASTAPI_TEMPLATE_REPORT": str(report_file),
    }
    bake_env.pop("DATABASE_URL", None)
    context = {"project_name": PROJECT_NAME, "python_version": PYTHON, "no_docker": "yes"}
    context["database_url"] = database_url
    project = root / "out" / PROJECT_NAME
    project.parent.mkdir()
    try:
        bake = copier_copy(template, project, bake_env, context, vcs_ref=FIRST_TAG)
        assert bake.returncode == 0, bake.stdout[-3000:] + bake.stderr[-3000:]
        report = json.loads(report_file.read_text(encoding="utf-8"))
        first_commit = run(["git", "ls-files"], project, git).stdout.split()

        edit_as_the_team(project, tools)
        (project / TEAM_RECORD).write_text("# 0001 Orders are immutable\n", encoding="utf-8")
        team_index = project / "docs" / "decisions" / "team" / "README.md"
        team_index.write_text(team_index.read_text(encoding="utf-8") + TEAM_INDEX_LINE, "utf-8")
        git_commit_all(project, git, "the team's edits")
        (project / ".env").write_text(
            (project / ".env").read_text(encoding="utf-8") + ENV_LINE, encoding="utf-8"
        )
        owned_before = owned(project)

        move_template_forward(template)
        template_index = template / PROJECT_FOLDER / "docs" / "decisions" / "team" / "README.md"
        template_index.write_text(
            template_index.read_text(encoding="utf-8") + TEMPLATE_TEAM_INDEX_LINE, "utf-8"
        )
        git_commit_all(template, git, "template v2")

        log = root / "calls.log"
        update_env = with_stand_ins(drill_env(NO_NETWORK), root / "bin", log)
        # A project made before the auth input keeps none, as CHANGELOG.md's "After updating"
        # line says (its team's route names no scope).
        update = copier_in(
            project,
            update_env,
            *("update", "--trust", "--defaults", "--data", "auth=none", "--vcs-ref", "HEAD"),
        )
        calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        yield Drill(
            project=project,
            template=template,
            tools=tools,
            bake=bake,
            report=report,
            first_commit=first_commit,
            update=update,
            calls=calls,
            owned_before=owned_before,
            owned_after=owned(project),
        )
    finally:
        drop_database(database)


def test_the_first_copy_runs_the_hooks_checklist_and_commits(drill: Drill) -> None:
    steps = {step["name"]: step["status"] for step in drill.report["steps"]}
    assert drill.report["mode"] == "local-no-docker"
    failed = {name: status for name, status in steps.items() if status == "failed"}
    assert failed == {}
    for name in ("uv lock", "uv sync", "mypy --strict", "pytest", "first git commit"):
        assert steps[name] == "passed", steps
    assert steps["migrate development db"] == "passed", steps
    assert "Checklist for orders-api" in drill.bake.stdout
    # Copier writes its answers file with the other files, before the tasks: the first commit
    # holds it, and the checklist proposes no .cruft.json step.
    assert ANSWERS_FILE in drill.first_commit
    assert ".cruft.json" not in " ".join(drill.report["next_steps"])


def test_the_answers_file_holds_no_secret(drill: Drill) -> None:
    answers = yaml.safe_load((drill.project / ANSWERS_FILE).read_text(encoding="utf-8"))
    env = (drill.project / ".env").read_text(encoding="utf-8")
    assert "@" in answers["database_url"]
    assert ":" not in urlsplit(answers["database_url"]).netloc.split("@")[0]
    secrets = [line.split("=", 1)[1] for line in env.splitlines() if "PASSWORD=" in line]
    text = (drill.project / ANSWERS_FILE).read_text(encoding="utf-8")
    assert not [secret for secret in secrets if secret and secret in text]


def test_update_succeeds_without_environment_work(drill: Drill) -> None:
    output = drill.update.stdout + drill.update.stderr
    assert drill.update.returncode == 0, output
    assert drill.calls == []  # no uv lock/sync, no docker
    assert "Checklist" not in output
    assert "Running task" not in output
    assert rejected_hunks(drill.project) == []
    tracked = attempt(["git", "grep", "-l", "-e", "^<<<<<<< "], drill.project, drill_env())
    assert tracked.stdout == "", f"conflict markers in: {tracked.stdout}"


def test_template_changes_arrive(drill: Drill) -> None:
    missing = [
        (path, text)
        for path, text in template_changes("yes")
        if not (drill.project / path).is_file()
        or text not in (drill.project / path).read_text(encoding="utf-8")
    ]
    assert missing == []
    answers = yaml.safe_load((drill.project / ANSWERS_FILE).read_text(encoding="utf-8"))
    head = run(["git", "rev-parse", "HEAD"], drill.template, drill_env()).stdout.strip()
    assert head.startswith(str(answers["_commit"]).rsplit("g", 1)[-1])


def test_every_team_edit_survives(drill: Drill) -> None:
    lost = [
        name
        for name, path, text in USER_EDITS
        if text not in (drill.project / path).read_text(encoding="utf-8")
    ]
    assert lost == []


def test_the_files_the_project_owns_are_untouched(drill: Drill) -> None:
    assert TEAM_RECORD in drill.owned_after
    changed = [
        path for path in drill.owned_before if drill.owned_after[path] != drill.owned_before[path]
    ]
    assert changed == []
    assert drill.owned_after.keys() == drill.owned_before.keys()


def test_the_options_still_hold(drill: Drill) -> None:
    assert not (drill.project / "Dockerfile").exists()  # no_docker=yes: the _exclude held
    assert not (drill.project / "deploy").exists()


def test_updated_project_passes_its_own_gates(drill: Drill) -> None:
    assert failed_gates(drill.project, drill.tools) == []


@pytest.mark.parametrize("conflict", ["inline", "rej"])
def test_a_conflicting_update_is_refused_by_the_git_hooks_and_ci(
    drill: Drill, conflict: str
) -> None:
    """Runs last: it commits the update, then conflicts the project on purpose."""
    project, git = drill.project, drill_env()
    pre_commit_home = str(drill.project.parent / "pre-commit-home")
    env = {**drill.tools, **GIT_IDENTITY, "PRE_COMMIT_HOME": pre_commit_home}
    if run(["git", "status", "--porcelain"], project, git).stdout:
        git_commit_all(project, git, "template v2, by copier update")
        replace_line(project / "README.md", f"{DESCRIPTION}\n", TEAM_LINE)
        git_commit_all(project, git, "our README")
        replace_line(
            drill.template / PROJECT_FOLDER / "README.md",
            "{{ cookiecutter.description }}\n",
            TEMPLATE_LINE,
        )
        git_commit_all(drill.template, git, "template v3")
    head = run(["git", "rev-parse", "HEAD"], project, git).stdout
    # The README's line, with the tools venv's copier, to the clone's HEAD (it has no release tag).
    update_args = [*readme_copier_update(project), "--vcs-ref", "HEAD", "--conflict", conflict]
    update = attempt(update_args, project, drill_env(NO_NETWORK), timeout=600)
    try:
        assert update.returncode == 0, update.stdout + update.stderr  # Copier does not fail it
        if conflict == "rej":
            assert rejected_hunks(project) == ["README.md.rej"]
        else:
            readme = (project / "README.md").read_text(encoding="utf-8").splitlines()
            assert [line for line in readme if line.startswith("<<<<<<< ")] != []
        # The rest of the README's recipe, as written: exactly one hook run fails, on README.md.
        recipe = code_block(project / "README.md", "## Keep up with the template")
        after = [line for line in recipe if "cruft update" not in line and line != "uv lock"]
        results = [attempt(["bash", "-c", line], project, env, timeout=600) for line in after]
        failed = [result for result in results if result.returncode != 0]
        assert len(failed) == 1, [(r.args, r.returncode, r.stdout[-500:]) for r in results]
        assert "README.md" in failed[0].stdout
        ci = run_ci_step(project, env)
        assert ci.returncode != 0, ci.stdout
        assert "README.md" in ci.stdout
        run([uv_binary(), "run", "--locked", "pre-commit", "install"], project, env)
        commit = attempt(["git", "commit", "-m", "template v3"], project, env, timeout=600)
        assert commit.returncode != 0, commit.stdout + commit.stderr
        assert "README.md" in commit.stdout + commit.stderr
        assert run(["git", "rev-parse", "HEAD"], project, git).stdout == head
    finally:
        run(["git", "reset", "-q", "--hard", head.strip()], project, git)
        run(["git", "clean", "-q", "-fd"], project, git)
