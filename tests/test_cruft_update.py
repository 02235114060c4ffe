"""cruft tier: `cruft create` bakes what cookiecutter bakes, and `cruft update` from an older
template revision brings the template's changes in, keeps every user edit and the files the
project owns, does no environment work while it re-renders, and leaves a project that passes its
own gates."""

from __future__ import annotations

import json
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bake import PROJECT_FOLDER, project_env, uv_binary
from tests.cruft_drill import (
    DEPENDENCY,
    INCLUDE_ROUTER,
    NO_NETWORK,
    README_PARAGRAPH,
    RENDER_ONLY,
    ROUTE_FILE,
    TEST_FILE,
    add_route_test_readme_and_dependency,
    append_text,
    attempt,
    cookiecutter_bake,
    cruft_create,
    cruft_in,
    drill_env,
    failed_gates,
    file_tree,
    git_commit_all,
    git_init_and_commit,
    insert_after_line,
    rejected_hunks,
    run,
    template_repo,
    with_stand_ins,
)
from tests.matrix import OPTIONS

PROJECT_NAME = "orders-api"
MODULE = "orders_api"
PYTHON = "3.12"
# Files that belong to the project after the first bake: `cruft update` must never touch them.
USER_OWNED = ("uv.lock", ".env")
DOCKER_FILES = ("Dockerfile", ".dockerignore", "docker-compose.yml")
PROJECT_DIR = PROJECT_FOLDER
MODULE_DIR = f"{PROJECT_DIR}/src/{{{{cookiecutter.module_name}}}}"


def context_for(no_docker: str) -> dict[str, str]:
    return {
        "project_name": PROJECT_NAME,
        "python_version": PYTHON,
        "include_example": "yes",
        "no_docker": no_docker,
        # The team's route (tests/cruft_drill.py) names no scope: under auth=oidc the baked
        # route walk would refuse it. The release drill updates from before auth, to none too.
        "auth": "none",
    }


def docker_label(no_docker: str) -> str:
    return "nodocker" if no_docker == "yes" else "docker"


def per_docker_switch() -> list:
    """One drill per no_docker value, each kept on one xdist worker."""
    return [
        pytest.param(
            value,
            id=docker_label(value),
            marks=pytest.mark.xdist_group(f"cruft-{docker_label(value)}"),
        )
        for value in OPTIONS["no_docker"]
    ]


# ---------------------------------------------------------------- the team's edits (v1 project)

SETTING = "    reports_page_size: int = Field(default=50, ge=1)\n"
SETTING_DOC = "REPORTS_PAGE_SIZE=50\n"
ENV_LINE = "# The team's own local database password lives here, never in git.\n"
# Where each edit lives (all committed but .env, which git ignores), and the text that proves it
# survived the update.
USER_EDITS = (
    ("README paragraph", "README.md", README_PARAGRAPH),
    ("setting in a file the template also changes", f"src/{MODULE}/core/config.py", SETTING),
    ("the setting documented in .env.example", ".env.example", SETTING_DOC),
    ("route wired into main.py", f"src/{MODULE}/main.py", INCLUDE_ROUTER),
    ("import of the new route", f"src/{MODULE}/main.py", ", reports\n"),
    ("new route file", f"src/{MODULE}/api/routes/reports.py", ROUTE_FILE),
    ("new test file", "tests/test_reports.py", TEST_FILE),
    ("dependency added with uv add", "pyproject.toml", f'"{DEPENDENCY}"'),
    ("line in the git-ignored .env", ".env", ENV_LINE),
)


def edit_as_the_team(project: Path, tools: dict[str, str]) -> None:
    """What a team does in the months after baking: docs, settings, a route, a dependency."""
    source = project / "src" / MODULE
    insert_after_line(source / "core" / "config.py", "environment:", SETTING)
    insert_after_line(project / ".env.example", "ENVIRONMENT=", SETTING_DOC)
    add_route_test_readme_and_dependency(project, MODULE, tools)


# ---------------------------------------------------------------- the template moves on (v2)

README_SECTION = "\n## Support\nA section template v2 adds to every project's README.\n"
NEW_SETTING = "    request_timeout_seconds: float = Field(default=30.0, gt=0)\n"
EXPORTS = '\n__all__ = ["app", "create_app"]\n'
PYTEST_OPTION = "xfail_strict = true\n"
DECISION = "docs/decisions/0099-template-v2-drill.md"
DOCKER_LABEL = 'LABEL org.opencontainers.image.description="template v2"\n'
ENV_SETTING = "REQUEST_TIMEOUT_SECONDS=30.0"


def move_template_forward(template: Path) -> None:
    """Changes a template release plausibly makes, several in files the team also edited."""
    project, source = template / PROJECT_DIR, template / MODULE_DIR
    append_text(project / "README.md", README_SECTION)
    insert_after_line(source / "core" / "config.py", "readiness_timeout", NEW_SETTING)
    insert_after_line(project / ".env.example", "READINESS_TIMEOUT_SECONDS=", f"{ENV_SETTING}\n")
    append_text(source / "main.py", EXPORTS)
    insert_after_line(project / "pyproject.toml", "addopts =", PYTEST_OPTION)
    (project / DECISION).write_text("# 0099 A record template v2 adds\n", encoding="utf-8")
    append_text(project / "Dockerfile", DOCKER_LABEL)
    # A new line in the hook-written .env: without `.env` in `[tool.cruft] skip` this diff hits
    # a git-ignored file, `git apply -3` refuses the whole patch and cruft falls back to
    # `git apply --reject` (no three-way merge for any file).
    hook = template / "hooks" / "post_gen_project.py"
    text = hook.read_text(encoding="utf-8")
    anchor = '    (project / ".env").write_text('
    assert anchor in text, "the hook no longer writes .env this way; update the drill"
    hook.write_text(
        text.replace(anchor, f'    lines.append("{ENV_SETTING}")\n{anchor}', 1), encoding="utf-8"
    )


def template_changes(no_docker: str) -> list[tuple[str, str]]:
    """Where each v2 change must arrive in the project, and the text that shows it did."""
    changes = [
        ("README.md", README_SECTION),
        (f"src/{MODULE}/core/config.py", NEW_SETTING),
        (".env.example", f"{ENV_SETTING}\n"),
        (f"src/{MODULE}/main.py", EXPORTS),
        ("pyproject.toml", PYTEST_OPTION),
        (DECISION, "# 0099"),
    ]
    if no_docker == "no":
        changes.append(("Dockerfile", DOCKER_LABEL))
    return changes


# ---------------------------------------------------------------- cruft create


@dataclass(frozen=True)
class Created:
    by_cruft: Path
    by_cookiecutter: Path
    template: Path
    context: dict[str, str]


@pytest.fixture(scope="module", params=per_docker_switch())
def created(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Created:
    """The same inputs baked by `cruft create` and by cookiecutter, both render-only."""
    root = tmp_path_factory.mktemp(f"create-{docker_label(request.param)}")
    template = template_repo(root / "template", drill_env())
    context = context_for(request.param)
    env = drill_env(RENDER_ONLY)
    cruft_create(template, root / "cruft", env, context)
    cookiecutter_bake(template, root / "cookiecutter", env, context)
    return Created(
        root / "cruft" / PROJECT_NAME, root / "cookiecutter" / PROJECT_NAME, template, context
    )


def test_cruft_create_bakes_what_cookiecutter_bakes(created: Created) -> None:
    by_cruft = file_tree(created.by_cruft)
    by_cookiecutter = file_tree(created.by_cookiecutter)
    assert by_cruft.pop(".cruft.json", None) is not None
    assert sorted(by_cruft) == sorted(by_cookiecutter)
    differing = [path for path in by_cruft if by_cruft[path] != by_cookiecutter[path]]
    # Each bake generates its own local database password into .env (record 0019).
    assert differing in ([], [".env"])
    assert env_keys(by_cruft[".env"]) == env_keys(by_cookiecutter[".env"])


def env_keys(content: bytes) -> list[str]:
    return [line.split("=", 1)[0] for line in content.decode().splitlines()]


def test_cruft_json_links_the_template_and_records_the_inputs(created: Created) -> None:
    state = json.loads((created.by_cruft / ".cruft.json").read_text(encoding="utf-8"))
    assert state["template"] == str(created.template)
    recorded = state["context"]["cookiecutter"]
    assert {key: recorded[key] for key in created.context} == created.context
    assert recorded["module_name"] == MODULE


def test_cruft_check_is_green_right_after_create(created: Created) -> None:
    result = cruft_in(created.by_cruft, drill_env(), "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_baked_pyproject_tells_cruft_to_skip_the_user_owned_files(created: Created) -> None:
    pyproject = tomllib.loads((created.by_cruft / "pyproject.toml").read_text(encoding="utf-8"))
    skip = pyproject.get("tool", {}).get("cruft", {}).get("skip", [])
    assert set(USER_OWNED) <= set(skip), f"[tool.cruft] skip = {skip}"


def test_a_first_bake_through_cruft_says_how_to_commit_cruft_json(tmp_path: Path) -> None:
    """cruft writes `.cruft.json` after the hook's first commit: the report's next steps name the
    command that commits it, and after that command the tree is clean for `cruft update`."""
    template = template_repo(tmp_path / "template", drill_env())
    report_file = tmp_path / "report.json"
    # The hook's real first-bake path; offline-smoke keeps the checklist to compileall.
    modes = {"FASTAPI_TEMPLATE_MODE": "offline-smoke", "FASTAPI_TEMPLATE_REPORT": str(report_file)}
    env = drill_env(modes)
    cruft_create(template, tmp_path / "out", env, context_for("yes"))
    project = tmp_path / "out" / PROJECT_NAME
    status = run(["git", "status", "--porcelain"], project, env).stdout
    assert status.splitlines() == ["?? .cruft.json"], "the first commit should hold all but it"

    report = json.loads(report_file.read_text(encoding="utf-8"))
    [line] = [step for step in report["next_steps"] if ".cruft.json" in step]
    assert report["next_steps"].index(line) == 1, "right after cd, before anything else"
    command = line.split("#", 1)[0].strip()
    assert f"`{command}`" in (project / "README.md").read_text(encoding="utf-8")
    run(["bash", "-c", command], project, env)
    assert run(["git", "status", "--porcelain"], project, env).stdout == ""
    assert ".cruft.json" in run(["git", "ls-files"], project, env).stdout.split()
    updated = cruft_in(project, env, "update", "-y")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "unclean" not in updated.stdout + updated.stderr


# ---------------------------------------------------------------- cruft update drill


@dataclass(frozen=True)
class Drill:
    project: Path
    no_docker: str
    tools: dict[str, str]  # real uv, the shared cache, the test database: for the gates
    update: subprocess.CompletedProcess[str]
    seconds: float
    calls: list[str]  # uv and docker calls made while cruft updated
    venv_after_update: bool
    check_before: subprocess.CompletedProcess[str]
    owned_before: dict[str, bytes]
    owned_after: dict[str, bytes]


def read_owned(project: Path) -> dict[str, bytes]:
    return {name: (project / name).read_bytes() for name in USER_OWNED}


def logged_calls(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


@pytest.fixture(scope="module", params=per_docker_switch())
def drill(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, uv_cache: Path
) -> Drill:
    """v1 baked with cruft, committed, edited by the team, then `cruft update -y` to v2."""
    no_docker = request.param
    root = tmp_path_factory.mktemp(f"update-{docker_label(no_docker)}")
    git = drill_env()
    template = template_repo(root / "template", git)
    cruft_create(template, root / "out", drill_env(RENDER_ONLY), context_for(no_docker))
    project = root / "out" / PROJECT_NAME
    tools = project_env(PYTHON, uv_cache)
    run([uv_binary(), "lock"], project, tools)  # what the hook does on a real first bake
    git_init_and_commit(project, git, "baked from template v1")
    edit_as_the_team(project, tools)
    git_commit_all(project, git, "the team's edits")
    append_text(project / ".env", ENV_LINE)  # git-ignored: never committed
    owned_before = read_owned(project)

    move_template_forward(template)
    git_commit_all(template, git, "template v2")
    check_before = cruft_in(project, git, "check")

    # Mode auto (no FASTAPI_TEMPLATE_MODE): the hook must see the re-render by itself.
    log = root / "calls.log"
    update_env = with_stand_ins(drill_env(NO_NETWORK), root / "bin", log)
    started = time.monotonic()
    update = cruft_in(project, update_env, "update", "-y")
    seconds = time.monotonic() - started
    return Drill(
        project=project,
        no_docker=no_docker,
        tools=tools,
        update=update,
        seconds=seconds,
        calls=logged_calls(log),
        venv_after_update=(project / ".venv").exists(),
        check_before=check_before,
        owned_before=owned_before,
        owned_after=read_owned(project),
    )


def test_update_succeeds_without_environment_work(drill: Drill) -> None:
    print(f"\ncruft update -y ({docker_label(drill.no_docker)}): {drill.seconds:.2f} s")
    output = drill.update.stdout + drill.update.stderr
    assert drill.update.returncode == 0, output
    assert drill.calls == []  # no uv lock/sync, no docker
    assert "Checklist" not in output
    assert not drill.venv_after_update


def test_update_merges_three_way_without_rejects(drill: Drill) -> None:
    output = drill.update.stdout + drill.update.stderr
    # cruft prints this when `git apply -3` refused the patch and it fell back to --reject.
    assert "Failed to apply the update" not in output, output
    assert rejected_hunks(drill.project) == []
    tracked = attempt(["git", "grep", "-l", "-e", "^<<<<<<< "], drill.project, drill_env())
    assert tracked.stdout == "", f"conflict markers in: {tracked.stdout}"


def test_cruft_check_is_red_before_the_update_and_green_after(drill: Drill) -> None:
    assert drill.check_before.returncode == 1, drill.check_before.stdout
    after = cruft_in(drill.project, drill_env(), "check")
    assert after.returncode == 0, after.stdout + after.stderr


def test_template_changes_arrive(drill: Drill) -> None:
    missing = [
        (path, text)
        for path, text in template_changes(drill.no_docker)
        if not (drill.project / path).is_file()
        or text not in (drill.project / path).read_text(encoding="utf-8")
    ]
    assert missing == []


def test_every_user_edit_survives(drill: Drill) -> None:
    lost = [
        name
        for name, path, text in USER_EDITS
        if text not in (drill.project / path).read_text(encoding="utf-8")
    ]
    assert lost == []


def test_user_owned_files_are_untouched(drill: Drill) -> None:
    changed = [name for name in USER_OWNED if drill.owned_after[name] != drill.owned_before[name]]
    assert changed == []


def test_options_still_hold_after_the_update(drill: Drill) -> None:
    present = {name: (drill.project / name).exists() for name in DOCKER_FILES}
    assert present == dict.fromkeys(DOCKER_FILES, drill.no_docker == "no")


def test_updated_project_passes_its_own_gates(drill: Drill) -> None:
    assert failed_gates(drill.project, drill.tools) == []
