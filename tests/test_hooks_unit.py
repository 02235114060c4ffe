"""The hooks' own functions, imported from the unrendered files: checks, examples, the prune
table, the mode choice and the report. The cookiecutter-driven tiers (hooks, cruft) prove the
wiring; these prove the rules, in about a second."""

from __future__ import annotations

import inspect
import itertools
import json
import sys
from pathlib import Path

import pytest

from tests.hook_modules import hook
from tools.machine import PROJECT_FOLDER, TEMPLATE_DIR

pre = hook("pre_gen_project")
post = hook("post_gen_project")

DEFAULTS = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
VALID = {
    "project_name": "orders-api",
    "module_name": "orders_api",
    "description": "Orders.",
    "python_version": "3.12",
    "database_url": "postgresql+asyncpg://app@localhost:5432/orders_api",
    "include_example": "yes",
    "no_docker": "no",
    "kubernetes": "yes",
    "auth": "oidc",
    "background_jobs": "yes",
    "_python_versions": DEFAULTS["_python_versions"],
}
INPUTS = [name for name in VALID if not name.startswith("_")]
PROJECT_TEMPLATE = TEMPLATE_DIR / PROJECT_FOLDER


# ---------------------------------------------------------------- checks and examples


def test_a_valid_context_has_no_problem() -> None:
    assert pre.validate(VALID, {}) == []


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("project_name", "Orders API", "must be kebab-case"),
        ("project_name", "a" * 65, "at most 64"),
        ("module_name", "class", "is a Python keyword"),
        ("module_name", "json", "standard-library module"),
        ("module_name", "fastapi", "would shadow"),
        ("module_name", "tests", "already uses"),
        ("python_version", "3.10", "must be one of"),
        ("description", 'say "hi"', "must not contain"),
        ("description", "two\nlines", "single line"),
        ("database_url", "postgresql://app:app@localhost/db", "needs the asyncpg driver"),
        ("database_url", "postgresql+asyncpg://app:secret@localhost/db", "holds a password"),
        ("database_url", "postgresql+asyncpg://app@localhost:99999/db", "from 1 to 65535"),
        ("database_url", "postgresql+asyncpg://app@localhost", "no database name"),
        ("include_example", "Yes", "must be 'yes' or 'no'"),
    ],
)
def test_each_check_names_what_is_wrong(name: str, value: str, reason: str) -> None:
    context = {**VALID, name: value}
    reasons = pre.RULES[name].check(value, context)
    assert any(reason in text for text in reasons), reasons


def test_auth_is_oidc_or_none() -> None:
    assert pre.check_auth("oidc", VALID) == []
    assert pre.check_auth("none", VALID) == []
    [reason] = pre.check_auth("OIDC", VALID)
    assert "'oidc'" in reason
    assert "'none'" in reason
    assert pre.example_auth("off", VALID) == "none"
    assert pre.example_auth("jwt", VALID) == "oidc"


def test_kubernetes_needs_the_image() -> None:
    context = {**VALID, "no_docker": "yes", "kubernetes": "yes"}
    assert pre.check_kubernetes("yes", context) == [
        "needs a container image, but no_docker=yes; choose kubernetes=no"
    ]


BAD_VALUES = ["", "  Orders API!  ", "3.12.1", 'a "quoted"\ttext {{ x }}', "Yes", 7, None]


@pytest.mark.parametrize(("name", "value"), list(itertools.product(INPUTS, BAD_VALUES)))
def test_every_example_is_itself_valid(name: str, value: object) -> None:
    context = {**VALID, name: value}
    example = pre.RULES[name].example(value, context)
    assert pre.RULES[name].check(example, {**context, name: example}) == []


def test_examples_stay_close_to_the_value_given() -> None:
    assert pre.example_project_name("Orders API", {}) == "orders-api"
    assert pre.example_python_version("python3.13", VALID) == "3.13"
    assert pre.example_yes_no("no")("TRUE", {}) == "yes"
    url = pre.example_database_url("postgresql://a:b@db:5432/orders", VALID)
    assert url == "postgresql+asyncpg://a@db:5432/orders"


def test_all_problems_in_one_message_with_a_command_to_run_again() -> None:
    context = {**VALID, "project_name": "Orders API", "no_docker": "maybe", "_template": "gh:o/t"}
    problems = pre.validate(context, {})
    assert [problem.name for problem in problems] == ["project_name", "no_docker"]
    message = pre.failure_message(problems, {**context, "_output_dir": "."})
    assert message.startswith("Cannot generate the project: 2 inputs are invalid.")
    assert message.endswith("cookiecutter gh:o/t --no-input project_name=orders-api no_docker=no")
    # cruft renders without `_output_dir`, and takes the values as JSON
    assert pre.failure_message(problems, context).endswith(
        """cruft create gh:o/t --no-input --extra-context '{"project_name": "orders-api", """
        """"no_docker": "no"}'"""
    )


def test_a_bad_mode_variable_is_a_problem_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(pre.MODE_VARIABLE, "fast")
    assert [problem.name for problem in pre.validate(VALID, {})] == [pre.MODE_VARIABLE]


# ---------------------------------------------------------------- prune table and .env


def test_the_prune_table_names_real_options_values_and_paths() -> None:
    table = post.prune_table("{{cookiecutter.module_name}}")
    for option, value in table:
        assert option in DEFAULTS, option
        assert pre.RULES[option].check(value, {**VALID, option: value}) == [], (option, value)
    missing = [
        path for paths in table.values() for path in paths if not (PROJECT_TEMPLATE / path).exists()
    ]
    assert missing == []


def test_prune_removes_what_the_options_exclude(tmp_path: Path) -> None:
    table = post.prune_table("orders_api")
    listed = {relative for paths in table.values() for relative in paths}
    for relative in listed:
        if any(other.startswith(f"{relative}/") for other in listed):  # deploy: a folder
            (tmp_path / relative).mkdir(parents=True, exist_ok=True)
            continue
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x", encoding="utf-8")
    context = {
        **VALID,
        "no_docker": "yes",
        "kubernetes": "no",
        "include_example": "no",
        "auth": "none",
        "background_jobs": "no",
    }
    removed = post.prune(tmp_path, context)
    expected = [*table["no_docker", "yes"], *table["kubernetes", "no"]]
    expected += [*table["include_example", "no"], *table["auth", "none"]]
    expected += table["background_jobs", "no"]
    # A path two options exclude (the example's jobs migration) is removed once, and one in a
    # folder already removed (deploy/k8s/worker-*.yaml) is not removed again.
    folders = set(expected)
    expected = [p for p in set(expected) if not any(p.startswith(f"{d}/") for d in folders)]
    assert sorted(removed) == sorted(expected)
    assert all((tmp_path / path).exists() for path in table["no_docker", "no"])


@pytest.mark.parametrize("no_docker", ["yes", "no"])
def test_env_file_holds_the_url_and_the_compose_database(tmp_path: Path, no_docker: str) -> None:
    post.write_env_file(tmp_path, {**VALID, "no_docker": no_docker})
    lines = (tmp_path / ".env").read_text(encoding="utf-8").splitlines()
    settings = dict(line.split("=", 1) for line in lines if "=" in line and line[0] != "#")
    if no_docker == "yes":  # the user's own server: its password is theirs to add
        assert settings == {"DATABASE_URL": VALID["database_url"]}
        return
    password = settings["POSTGRES_PASSWORD"]
    assert len(password) >= 32  # generated at bake time, never typed
    assert settings == {
        "DATABASE_URL": f"postgresql+asyncpg://app:{password}@localhost:5432/orders_api",
        "POSTGRES_USER": "app",
        "POSTGRES_PASSWORD": password,
        "POSTGRES_DB": "orders_api",
    }


# ---------------------------------------------------------------- modes: one rule, two hooks

TWINS = (
    "tool_env",
    "pyenv_python",
    "mode_for",
    "is_rerender",
    "is_cruft_update",
    "context_argument",
)


@pytest.mark.parametrize("name", TWINS)
def test_the_hooks_twin_helpers_are_identical(name: str) -> None:
    assert inspect.getsource(getattr(pre, name)) == inspect.getsource(getattr(post, name))


def test_the_hooks_know_the_same_modes_by_the_same_variable() -> None:
    assert (pre.MODE_VARIABLE, pre.MODES) == (post.MODE_VARIABLE, post.MODES)


@pytest.mark.parametrize(
    ("has_uv", "has_python", "no_docker", "engine"),
    list(itertools.product([True, False], [True, False], ["yes", "no"], [True, False])),
)
def test_both_hooks_name_the_same_mode(
    has_uv: bool, has_python: bool, no_docker: str, engine: bool
) -> None:
    uv = pre.Tool("uv", has_uv, "")
    python = pre.Tool("Python 3.12", has_python, "")
    docker = pre.Tool("Docker engine", engine, "") if no_docker == "no" else None
    preflight = pre.detect_mode(no_docker, uv, python, docker)
    mode, why = post.decide_mode(has_uv, has_python, no_docker, "3.12")
    assert preflight.split(":")[0].split(" ")[0] == mode
    assert why


@pytest.mark.parametrize(
    ("mode", "context", "in_fresh_tmp", "rerender"),
    [
        ("render-only", {"_output_dir": "."}, False, True),
        ("auto", {"_output_dir": "."}, True, False),  # cookiecutter, even under /tmp/tmpXYZ
        ("auto", {}, True, True),  # `cruft update` renders into a fresh temporary folder
        ("auto", {}, False, False),  # `cruft create` into a folder of the user's
    ],
)
def test_a_rerender_does_no_environment_work(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mode: str,
    context: dict[str, str],
    in_fresh_tmp: bool,
    rerender: bool,
) -> None:
    monkeypatch.setenv(pre.MODE_VARIABLE, mode)
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    parent = tmp_path / ("tmpabc123" if in_fresh_tmp else "work") / "orders-api"
    assert pre.is_rerender(context, str(parent)) is rerender
    assert post.is_rerender(context, str(parent)) is rerender


def test_tool_env_leaves_the_callers_venv_and_downloads_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/.venv")
    monkeypatch.delenv("UV_PYTHON_DOWNLOADS", raising=False)
    env = post.tool_env()
    assert "VIRTUAL_ENV" not in env
    assert env["UV_PYTHON_DOWNLOADS"] == "never"


# ---------------------------------------------------------------- steps and report


def test_a_step_passes_only_when_its_command_succeeds(tmp_path: Path) -> None:
    report = post.Report(tmp_path, "local-no-docker", "no_docker=yes")
    assert report.run(post.Step("ok", [sys.executable, "-c", "print('fine')"]))
    assert not report.run(post.Step("bad", [sys.executable, "-c", "raise SystemExit('no db')"]))
    assert not report.run(post.Step("absent", [str(tmp_path / "no-such-tool")]))
    report.skip(post.Step("later", ["uv", "sync"]), "dependencies are not installed")
    statuses = [(step.name, step.status) for step in report.steps]
    assert statuses == [
        ("ok", "passed"),
        ("bad", "failed"),
        ("absent", "failed"),
        ("later", "skipped"),
    ]
    assert report.steps[1].reason == "exit 1: no db"
    assert [step.name for step in report.failed] == ["bad", "absent"]


def test_the_report_prints_each_step_and_the_command_to_run_later(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = post.Report(tmp_path / "orders-api", "offline-smoke", "uv is not on PATH")
    report.check("Docker artefacts present", True, "")
    report.skip(post.Step("uv lock", ["/usr/bin/uv", "lock"]), "uv is not on PATH")
    report.next_steps = ["cd orders-api"]
    report.print()
    out = capsys.readouterr().out
    assert "Checklist for orders-api: mode offline-smoke (uv is not on PATH)" in out
    assert "run later: uv lock" in out
    assert "1 passed, 0 failed, 1 skipped" in out
    data = json.loads(report.to_json())
    assert data["project"] == str(tmp_path / "orders-api")
    assert [step["status"] for step in data["steps"]] == ["passed", "skipped"]
    assert data["next_steps"] == ["cd orders-api"]


def test_next_steps_follow_the_options(tmp_path: Path) -> None:
    project = tmp_path / "orders-api"
    with_docker = post.next_steps(project, VALID, engine=True)
    without = post.next_steps(project, {**VALID, "no_docker": "yes"}, engine=False)
    assert with_docker[0] == without[0] == "cd orders-api"
    assert with_docker[1].startswith("docker compose up")
    assert not any("docker" in step for step in without)
    assert with_docker[-1] == without[-1] == "uv run uvicorn orders_api.main:app --reload"


def test_without_an_engine_the_next_steps_start_with_what_runs_now(tmp_path: Path) -> None:
    steps = post.next_steps(tmp_path / "orders-api", VALID, engine=False)
    assert [step.split()[:3] for step in steps] == [
        ["cd", "orders-api"],
        ["uv", "run", "pytest"],
        ["docker", "compose", "up"],
    ]
    assert "once a Docker engine runs" in steps[-1]


def test_without_an_engine_the_container_checks_read_as_the_project_runs_them() -> None:
    later = [step.later for step in post.steps_for_later("orders-api")]
    assert later == [
        "docker build -t orders-api:local .",
        "docker compose up -d --build --wait",
        "docker compose ps",
        "curl -fsS http://127.0.0.1:8000/readyz",
        "docker compose down",
    ]


# ---------------------------------------------------------------- unrendered


@pytest.mark.parametrize("name", ["pre_gen_project", "post_gen_project"])
def test_unrendered_hooks_exit_2_with_a_message(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert hook(name).main() == 2
    assert "must be rendered by cookiecutter first" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("auto", ("offline-smoke", "uv is not on PATH")),
        ("local-no-docker", ("local-no-docker", "chosen by FASTAPI_TEMPLATE_MODE")),
        ("render-only", ("render-only", "chosen by FASTAPI_TEMPLATE_MODE")),
    ],
)
def test_the_mode_variable_chooses_and_auto_detects(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, requested: str, expected: tuple[str, str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no uv, no pyenv
    monkeypatch.setenv(post.MODE_VARIABLE, requested)
    assert post.choose_mode(VALID) == expected


@pytest.mark.parametrize(
    ("context", "first_commit", "asked"),
    [
        ({**VALID, "_commit": "0" * 40}, "passed", True),
        ({**VALID, "_commit": "0" * 40}, "skipped", False),  # its `git add -A` takes it later
        (VALID, "passed", False),  # cookiecutter: no .cruft.json to commit
    ],
    ids=["cruft", "cruft-no-commit", "cookiecutter"],
)
def test_only_a_cruft_bake_with_a_first_commit_asks_to_commit_cruft_json(
    tmp_path: Path, context: dict[str, object], first_commit: str, asked: bool
) -> None:
    report = post.Report(tmp_path, "local-no-docker", "no_docker=yes")
    report.steps.append(post.Step(post.FIRST_COMMIT, ["git"], status=first_commit))
    report.next_steps = ["cd orders-api", "uv run pytest"]
    post.record_cruft_json(report, context)
    commands = [line for line in report.next_steps if ".cruft.json" in line]
    assert commands == ([report.next_steps[1]] if asked else [])
