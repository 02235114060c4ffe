"""The pre-generation hook, driven through the real cookiecutter (Python API and CLI).

Hostile input is rejected with one message that names each variable and value, without a
traceback and without leaving anything on disk; valid edge values bake; the preflight reports the
tools it finds and the mode the post-generation hook will pick.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import (
    FailedHookException,
    UndefinedVariableInTemplate,
)
from cookiecutter.hooks import run_hook_from_repo_dir
from cookiecutter.main import cookiecutter
from cookiecutter.utils import create_env_with_context
from jinja2 import TemplateSyntaxError

from tests.bake import PYTHON_VERSIONS, python_for

TEMPLATE = Path(__file__).parents[1]
HOOK = TEMPLATE / "hooks" / "pre_gen_project.py"
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
VALID_CONTEXT = {
    "project_name": "my-service",
    "module_name": "my_service",
    "description": "A FastAPI service.",
    "python_version": "3.12",
    "database_url": "postgresql+asyncpg://app@localhost:5432/my_service",
    "include_example": "yes",
    "no_docker": "no",
    "kubernetes": "yes",
    "auth": "oidc",
    "background_jobs": "no",
    "_python_versions": DEFAULTS["_python_versions"],
}


# ---------------------------------------------------------------- sandbox


@dataclass
class Sandbox:
    """outer/out is the output dir; cwd is where cookiecutter runs; nothing else may change."""

    root: Path
    outer: Path
    out: Path
    cwd: Path
    config: Path

    def tree(self) -> list[str]:
        return sorted(
            str(path.relative_to(self.root))
            for top in (self.outer, self.cwd)
            for path in [top, *top.rglob("*")]
        )

    def bake(self, **context: Any) -> Path:
        result = cookiecutter(
            str(TEMPLATE),
            no_input=True,
            extra_context=context,
            output_dir=str(self.out),
            config_file=str(self.config),
        )
        return Path(result)

    def cli(self, *settings: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        binary = Path(sys.executable).with_name("cookiecutter")
        command = [str(binary)] if binary.exists() else [sys.executable, "-m", "cookiecutter"]
        command += ["--no-input", "--config-file", str(self.config), "-o", str(self.out)]
        return subprocess.run(
            [*command, str(TEMPLATE), *settings],
            cwd=self.cwd,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def assert_left_as_it_was(self, before: list[str]) -> None:
        """At once: nothing may be left for a process that outlives cookiecutter to tidy."""
        assert self.tree() == before
        assert not any(self.out.iterdir()), "the output dir must stay empty"
        pwned = [*self.root.rglob("pwned*"), *TEMPLATE.glob("pwned*"), *Path.cwd().glob("pwned*")]
        assert not pwned, "a value was run by a shell"


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    outer, cwd, home = tmp_path / "outer", tmp_path / "cwd", tmp_path / "cookiecutter-home"
    out = outer / "out"
    for folder in (out, cwd, home):
        folder.mkdir(parents=True)
    (outer / "sibling.txt").write_text("must survive\n", encoding="utf-8")
    config = home / "config.yaml"  # keeps replay files out of the real home directory
    settings = {"cookiecutters_dir": str(home / "templates"), "replay_dir": str(home / "replay")}
    config.write_text(json.dumps(settings), encoding="utf-8")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("FASTAPI_TEMPLATE_MODE", "render-only")
    for name in ("FASTAPI_TEMPLATE_STRICT", "FASTAPI_TEMPLATE_REPORT"):
        monkeypatch.delenv(name, raising=False)
    return Sandbox(tmp_path, outer, out, cwd, config)


def assert_names(message: str, name: str, value: object) -> None:
    assert "Cannot generate the project:" in message
    assert f"  - {name} = " in message
    assert repr(value)[:100] in message, "the message must show the value as given"


def assert_no_hook_traceback(*outputs: str) -> None:
    """cookiecutter's CLI logs its own FailedHookException with a traceback (on stdout); any
    frame outside cookiecutter's package would be the hook's."""
    text = "\n".join(outputs)
    frames = re.findall(r'File "([^"]+)"', text)
    assert all(f"{os.sep}cookiecutter{os.sep}" in frame for frame in frames), text


def suggested_settings(message: str) -> dict[str, str]:
    """The key=value pairs of the 'run again' command at the end of the message."""
    command = message.strip().splitlines()[-1].split("e.g.: ", 1)[1]
    words = shlex.split(command)
    return dict(word.split("=", 1) for word in words[words.index("--no-input") + 1 :])


# ---------------------------------------------------------------- hostile values


def bad(name: str, value: object, case: str) -> Any:
    return pytest.param(name, value, id=f"{name}-{case}")


SHELL = [
    ("$(touch pwned)", "command-substitution"),
    (";touch pwned", "semicolon"),
    ("`touch pwned`", "backticks"),
    ("a|touch pwned", "pipe"),
]
HOSTILE = [
    bad("project_name", "My Service", "space-and-uppercase"),
    bad("project_name", "my service", "space"),
    bad("project_name", "MyService", "uppercase"),
    bad("project_name", "a/b", "slash"),
    bad("project_name", "a/b/c", "two-slashes"),
    bad("project_name", "a\\b", "backslash"),
    bad("project_name", "../evil", "dotdot-escape"),
    bad("project_name", "a/../../b", "dotdot-out-and-back"),
    bad("project_name", "a/b/..", "dotdot-into-own-folder"),
    bad("project_name", "-svc", "leading-hyphen"),
    bad("project_name", "svc-", "trailing-hyphen"),
    bad("project_name", "my--svc", "double-hyphen"),
    bad("project_name", "1svc", "leading-digit"),
    bad("project_name", "my_svc", "underscore"),
    bad("project_name", "my.svc", "dot"),
    *[bad("project_name", value, case) for value, case in SHELL],
    bad("project_name", "sérvice", "accent"),
    bad("project_name", "\uff53ervice", "fullwidth"),
    bad("project_name", "svc-🚀", "emoji"),
    bad("project_name", "a" * 65, "65-chars"),
    bad("project_name", "{{7*7}}", "jinja"),
    bad("project_name", "my\nservice", "newline"),
    bad("module_name", "", "empty"),
    bad("module_name", "My_Module", "uppercase"),
    bad("module_name", "my-module", "hyphen"),
    bad("module_name", "my module", "space"),
    bad("module_name", "1mod", "leading-digit"),
    bad("module_name", "a/b", "slash"),
    bad("module_name", "módulo", "accent"),
    bad("module_name", "a" * 65, "65-chars"),
    bad("module_name", "mod\nx", "newline"),
    bad("module_name", "{{7*7}}", "jinja"),
    bad("module_name", "class", "keyword"),
    bad("module_name", "match", "soft-keyword"),
    bad("module_name", "_", "soft-keyword-underscore"),
    bad("module_name", "json", "stdlib-json"),
    bad("module_name", "asyncio", "stdlib-asyncio"),
    bad("module_name", "logging", "stdlib-logging"),
    bad("module_name", "fastapi", "dependency-fastapi"),
    bad("module_name", "sqlalchemy", "dependency-sqlalchemy"),
    bad("module_name", "pydantic", "dependency-pydantic"),
    bad("module_name", "alembic", "dependency-alembic"),
    bad("module_name", "tests", "tests"),
    bad("module_name", "test", "test"),
    bad("module_name", "src", "src"),
    *[bad("module_name", value, case) for value, case in SHELL],
    bad("python_version", "3.11", "too-old"),
    bad("python_version", "3.14", "unsupported"),
    bad("python_version", "3", "major-only"),
    bad("python_version", "3.12.1", "patch"),
    bad("python_version", "py3.12", "prefix"),
    bad("python_version", "", "empty"),
    bad("python_version", " 3.12", "leading-space"),
    bad("python_version", "3.12\n", "newline"),
    bad("python_version", "{{7*7}}", "jinja"),
    *[bad("python_version", value, case) for value, case in SHELL],
    bad("database_url", "sqlite:///x.db", "sqlite"),
    bad("database_url", "mysql://u:p@h/db", "mysql"),
    bad("database_url", "http://app@localhost/db", "http"),
    bad("database_url", "postgresql://app@localhost/db", "sync-driver"),
    bad("database_url", "postgres://app@localhost/db", "postgres-scheme"),
    bad("database_url", "postgresql+asyncpg://app@/db", "no-host"),
    bad("database_url", "postgresql+asyncpg://app@localhost:5432/", "no-database"),
    bad("database_url", "postgresql+asyncpg://app@localhost:5432", "no-path"),
    bad("database_url", "postgresql+asyncpg://app@localhost/a/b", "two-segment-path"),
    bad("database_url", "postgresql+asyncpg://app@localhost:abc/db", "port-abc"),
    bad("database_url", "postgresql+asyncpg://app@localhost:99999/db", "port-99999"),
    bad("database_url", "postgresql+asyncpg://app@localhost:0/db", "port-0"),
    bad("database_url", "postgresql+asyncpg://localhost/db", "no-user"),
    bad("database_url", "postgresql+asyncpg://app:app@localhost:5432/db", "password"),
    bad("database_url", "postgresql+asyncpg://app:p@ss@localhost/db", "password-at"),
    bad("database_url", "postgresql+asyncpg://app:p%40ss@localhost/db", "password-percent"),
    bad("database_url", "postgresql+asyncpg://app:p#ss@localhost/db", "password-hash"),
    bad("database_url", "postgresql+asyncpg://app@localhost/db?ssl=require", "query"),
    bad("database_url", "postgresql+asyncpg://app@local host/db", "space"),
    bad("database_url", "postgresql+asyncpg://app@lócalhost/db", "unicode-host"),
    bad("database_url", "postgresql+asyncpg://app@localhost/" + "d" * 65, "long-db"),
    bad("database_url", "postgresql+asyncpg://app@localhost/1db", "db-leading-digit"),
    bad("database_url", "postgresql+asyncpg://app@localhost/db\n", "newline"),
    bad("database_url", "not a url", "not-a-url"),
    bad("database_url", "", "empty"),
    bad("database_url", "{{7*7}}", "jinja"),
    *[bad("database_url", value, case) for value, case in SHELL],
    *[
        bad(name, value, case)
        for name in ("include_example", "no_docker", "kubernetes", "background_jobs")
        for value, case in [
            ("maybe", "maybe"),
            ("Yes", "capitalised"),
            ("true", "true"),
            ("1", "one"),
            ("", "empty"),
            (" yes", "leading-space"),
            ("no\n", "newline"),
            *SHELL[:1],
        ]
    ],
    *[
        bad("auth", value, case)
        for value, case in [
            ("oauth", "unknown"),
            ("OIDC", "capitalised"),
            ("no", "no"),
            ("", "empty"),
            ("oidc ", "trailing-space"),
            *SHELL[:1],
        ]
    ],
    bad("description", "line one\nline two", "newline"),
    bad("description", "line one\r", "carriage-return"),
    bad("description", "line one\u2028line two", "line-separator"),
    bad("description", 'say "hi"', "double-quote"),
    bad("description", "back\\slash", "backslash"),
    bad("description", "tab\there", "tab"),
    bad("description", "a" * 201, "201-chars"),
    bad("description", "{{ '{{' }} secrets }}", "jinja-marker-after-render"),
]


@pytest.mark.parametrize(("name", "value"), HOSTILE)
def test_hostile_value_is_rejected_and_nothing_is_left(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    before = sandbox.tree()

    with pytest.raises(FailedHookException):
        sandbox.bake(**{name: value})

    out, err = capfd.readouterr()
    assert_names(err, name, value)
    assert "Traceback" not in out + err
    sandbox.assert_left_as_it_was(before)
    # Every "Example:" the message gives is valid: baking with the suggested values works.
    fixed = {name: value, **suggested_settings(err)}
    assert sandbox.bake(**fixed).is_dir()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        bad("no_docker", True, "bool"),
        bad("include_example", False, "bool"),
        bad("description", {"a": "b"}, "dict"),
        bad("include_example", ["maybe", "yes"], "list-becomes-first-choice"),
    ],
)
def test_non_string_value_is_a_problem_not_a_crash(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str], name: str, value: object
) -> None:
    before = sandbox.tree()
    with pytest.raises(FailedHookException):
        sandbox.bake(**{name: value})
    err = capfd.readouterr().err
    assert f"  - {name} = " in err
    assert "Traceback" not in err
    sandbox.assert_left_as_it_was(before)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param("{{", TemplateSyntaxError, id="unbalanced-jinja"),
        pytest.param("{% if %}", TemplateSyntaxError, id="broken-jinja-tag"),
        pytest.param("{{ cookiecutter.nope }}", UndefinedVariableInTemplate, id="undefined"),
    ],
)
def test_cookiecutter_rejects_some_project_names_before_the_hook(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str], value: str, error: type[Exception]
) -> None:
    before = sandbox.tree()
    with pytest.raises(error):
        sandbox.bake(project_name=value)
    assert "Cannot generate the project" not in capfd.readouterr().err, "the hook never ran"
    sandbox.assert_left_as_it_was(before)


# Names that are not one plain folder: the template folder renders each of them to one new folder
# inside the output dir, so the hook rejects them and cookiecutter deletes only what it made.
NOT_A_FOLDER = [
    pytest.param("", "", id="empty"),
    pytest.param(".", ".", id="dot"),
    pytest.param("..", "..", id="dotdot"),
    pytest.param("{#", "", id="jinja-comment-renders-empty"),
    pytest.param("../a/b", "../a/b", id="parent-then-two-folders"),
    pytest.param("x/..", "x/..", id="resolves-to-the-output-dir"),
    pytest.param("x/../..", "x/../..", id="resolves-to-its-parent"),
    pytest.param("a/b/..", "a/b/..", id="dotdot-into-own-folder"),
]


@pytest.mark.parametrize(("value", "shown"), NOT_A_FOLDER)
@pytest.mark.parametrize("output_dir_state", ["empty", "with-a-file"])
def test_a_name_that_is_no_plain_folder_gets_the_hooks_message_in_process(
    sandbox: Sandbox,
    capfd: pytest.CaptureFixture[str],
    value: str,
    shown: str,
    output_dir_state: str,
) -> None:
    """cookiecutter's Python API (as cruft and pytest-cookies call it): the caller, this test
    process, survives, and nothing outside the new folder is created or deleted."""
    if output_dir_state == "with-a-file":
        (sandbox.out / "precious.txt").write_text("keep me\n", encoding="utf-8")
    before = sandbox.tree()

    with pytest.raises(FailedHookException):
        sandbox.bake(project_name=value)

    assert_names(capfd.readouterr().err, "project_name", shown)
    assert sandbox.tree() == before
    if output_dir_state == "with-a-file":
        assert (sandbox.out / "precious.txt").read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.parametrize(("value", "shown"), NOT_A_FOLDER)
def test_a_name_that_is_no_plain_folder_gets_the_hooks_message_on_the_cli(
    sandbox: Sandbox, value: str, shown: str
) -> None:
    (sandbox.out / "precious.txt").write_text("keep me\n", encoding="utf-8")
    before = sandbox.tree()

    result = sandbox.cli(f"project_name={value}")

    assert result.returncode == 1, "cookiecutter must exit on its own, not be killed"
    assert_names(result.stderr, "project_name", shown)
    assert_no_hook_traceback(result.stdout, result.stderr)
    assert sandbox.tree() == before


# ---------------------------------------------------------------- through the CLI


def test_kubernetes_without_a_container_image_is_rejected(sandbox: Sandbox) -> None:
    before = sandbox.tree()
    result = sandbox.cli("no_docker=yes", "kubernetes=yes")
    assert result.returncode != 0
    assert_names(result.stderr, "kubernetes", "yes")
    assert "no_docker=yes" in result.stderr
    sandbox.assert_left_as_it_was(before)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        bad("project_name", "My Service", "space-and-uppercase"),
        bad("project_name", "a/b/c", "two-slashes"),
        bad("project_name", "$(touch pwned)", "command-substitution"),
        bad("no_docker", "maybe", "maybe"),
        bad("database_url", "postgresql+asyncpg://app:p@ss@localhost/db", "password-at"),
        bad("description", 'say "hi"\nbye', "quote-and-newline"),
    ],
)
def test_cli_rejects_with_one_message(sandbox: Sandbox, name: str, value: str) -> None:
    before = sandbox.tree()

    result = sandbox.cli(f"{name}={value}")

    assert result.returncode != 0
    assert_names(result.stderr, name, value)
    assert "Traceback" not in result.stderr
    assert_no_hook_traceback(result.stdout, result.stderr)
    assert "Preflight" not in result.stdout, "no preflight on invalid input"
    sandbox.assert_left_as_it_was(before)


MANY_WRONG = {
    "project_name": "My Service",
    "description": "two\nlines",
    "python_version": "3.11",
    "database_url": "mysql://u:p@h/db",
    "include_example": "maybe",
    "no_docker": "Yes",
}


def test_several_wrong_inputs_are_listed_in_one_message(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    before = sandbox.tree()
    with pytest.raises(FailedHookException):
        sandbox.bake(**MANY_WRONG)
    err = capfd.readouterr().err

    assert "Cannot generate the project: 7 inputs are invalid." in err
    for name, value in MANY_WRONG.items():
        assert_names(err, name, value)
    assert "  - module_name = 'My Service' (derived from project_name" in err
    assert err.count("Cannot generate the project") == 1
    sandbox.assert_left_as_it_was(before)
    assert sandbox.bake(**{**MANY_WRONG, **suggested_settings(err)}).is_dir()


def test_cli_lists_every_wrong_input_including_the_mode_variable(sandbox: Sandbox) -> None:
    before = sandbox.tree()
    settings = [f"{name}={value}" for name, value in MANY_WRONG.items()]

    result = sandbox.cli(*settings, env={"FASTAPI_TEMPLATE_MODE": "fast"})

    assert result.returncode != 0
    assert "Cannot generate the project: 8 inputs are invalid." in result.stderr
    for name, value in [*MANY_WRONG.items(), ("FASTAPI_TEMPLATE_MODE", "fast")]:
        assert_names(result.stderr, name, value)
    assert "FASTAPI_TEMPLATE_MODE=auto cookiecutter" in result.stderr
    assert_no_hook_traceback(result.stdout, result.stderr)
    sandbox.assert_left_as_it_was(before)


def test_invalid_mode_variable_is_rejected(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTAPI_TEMPLATE_MODE", "AUTO")
    before = sandbox.tree()
    with pytest.raises(FailedHookException):
        sandbox.bake()
    out, err = capfd.readouterr()
    assert_names(err, "FASTAPI_TEMPLATE_MODE", "AUTO")
    assert "1 input is invalid" in err
    assert "Preflight" not in out
    sandbox.assert_left_as_it_was(before)


# ---------------------------------------------------------------- valid edge values


def good(case: str, **context: str) -> Any:
    return pytest.param(context, id=case)


@pytest.mark.parametrize(
    "context",
    [
        good("defaults"),
        good("one-letter", project_name="a"),
        good("letter-digit", project_name="a1"),
        good("64-chars", project_name="orders-" + "x" * 57),
        good("versioned", project_name="orders-api-v2"),
        good("module-app-core", module_name="app_core"),
        good("module-app", module_name="app"),
        good("no-port", database_url="postgresql+asyncpg://app@localhost/orders"),
        good("ipv4", database_url="postgresql+asyncpg://app@127.0.0.1:5432/orders"),
        good("ipv6", database_url="postgresql+asyncpg://app@[::1]:5432/orders"),
        good("hyphenated-db", database_url="postgresql+asyncpg://app@localhost/orders-db"),
        good("no-password", database_url="postgresql+asyncpg://app@db:5432/orders"),
        good("unreserved-user", database_url="postgresql+asyncpg://a.b~c-_.x@db/o"),
        good("python-3.13", python_version="3.13"),
        good("apostrophe-unicode", description="Café's service"),
        good("empty-description", description=""),
        # cookiecutter renders typed values as Jinja: this arrives as "49".
        good("jinja-rendered-description", description="{{7*7}}"),
        good("no-docker-no-example", no_docker="yes", include_example="no"),
    ],
)
def test_valid_edge_values_bake(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str], context: dict[str, str]
) -> None:
    project = sandbox.bake(**context)

    assert project.is_dir()
    assert project.name == context.get("project_name", DEFAULTS["project_name"])
    assert project.resolve().parent == sandbox.out.resolve()
    assert "Cannot generate" not in capfd.readouterr().err


# ---------------------------------------------------------------- preflight


def fake_tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


FAKE_UV = """case "$1" in
  --version) echo "uv 0.0.0-fake" ;;
  python) echo "/opt/fake/python$3" ;;
  *) exit 2 ;;
esac"""
DOCKER_WITHOUT_ENGINE = (
    'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1'
)


@pytest.fixture
def tool_bin(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


posix_only = pytest.mark.skipif(os.name != "posix", reason="fake tools are shell scripts")


@posix_only
@pytest.mark.parametrize("mode", ["auto", "offline-smoke"])
def test_preflight_without_uv_names_offline_smoke(
    sandbox: Sandbox, tool_bin: Path, mode: str
) -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    (tool_bin / "git").symlink_to(git)
    (tool_bin / f"python{version}").symlink_to(sys.executable)
    python_version = version if version in PYTHON_VERSIONS else PYTHON_VERSIONS[0]

    result = sandbox.cli(
        f"python_version={python_version}",
        env={"PATH": str(tool_bin), "FASTAPI_TEMPLATE_MODE": mode},
    )

    assert result.returncode == 0, result.stderr
    assert re.search(r"^  uv +missing +not on PATH$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^  git +found +git version", result.stdout, re.MULTILINE)
    assert "offline-smoke: uv is missing" in result.stdout
    if python_version == version:
        assert re.search(rf"^  Python {version} +found +{tool_bin}", result.stdout, re.MULTILINE)
    if mode == "offline-smoke":
        assert "Mode: offline-smoke (chosen by FASTAPI_TEMPLATE_MODE;" in result.stdout
    else:
        assert "Mode: offline-smoke: uv is missing" in result.stdout


@posix_only
def test_preflight_reports_a_docker_client_without_engine(sandbox: Sandbox, tool_bin: Path) -> None:
    fake_tool(tool_bin, "uv", FAKE_UV)
    fake_tool(tool_bin, "docker", DOCKER_WITHOUT_ENGINE)
    path = os.pathsep.join([str(tool_bin), os.environ.get("PATH", "")])

    result = sandbox.cli(
        "no_docker=no", env={"PATH": path, "FASTAPI_TEMPLATE_MODE": "offline-smoke"}
    )

    assert result.returncode == 0, result.stderr
    assert re.search(r"^  Docker engine +missing +no Docker engine answered", result.stdout, re.M)
    assert "Cannot connect to the Docker daemon" in result.stdout
    assert re.search(r"^  uv +found +uv 0.0.0-fake$", result.stdout, re.MULTILINE)
    assert (
        "detection would pick production-default checklist with container steps skipped: "
        "no Docker engine answered" in result.stdout
    )


def test_render_only_prints_no_preflight(sandbox: Sandbox) -> None:
    result = sandbox.cli(env={"FASTAPI_TEMPLATE_MODE": "render-only"})
    assert result.returncode == 0, result.stderr
    assert "Preflight" not in result.stdout
    assert "Mode:" not in result.stdout


# The finer preflight cases run the hook alone, the way cookiecutter runs it.


def run_pre_gen(sandbox: Sandbox, **values: object) -> Path:
    # As cookiecutter.json derives it: no Kubernetes manifests without a container image.
    derived = {"kubernetes": "no"} if values.get("no_docker") == "yes" else {}
    context = {"cookiecutter": {**VALID_CONTEXT, **derived, "_template": str(TEMPLATE), **values}}
    project = sandbox.out / str(context["cookiecutter"]["project_name"])
    project.mkdir()
    run_hook_from_repo_dir(str(TEMPLATE), "pre_gen_project", project, context, False)
    return project


@posix_only
@pytest.mark.parametrize(
    ("no_docker", "docker", "expected"),
    [
        pytest.param(
            "no",
            'echo "27.3.1"',
            ["Docker engine  found    server 27.3.1", "Mode: production-default: a Docker"],
            id="engine-answers",
        ),
        pytest.param(
            "no",
            f"exec {shutil.which('sleep') or '/bin/sleep'} 30",
            [
                "Docker engine  missing  no Docker engine answered (docker info: no answer within "
                "5 s)",
                "Mode: production-default checklist with container steps skipped",
            ],
            id="engine-hangs",
        ),
        pytest.param(
            "no",
            None,
            ["no docker command on PATH", "container steps skipped: no Docker engine answered"],
            id="no-docker-command",
        ),
        pytest.param(
            "yes",
            "exit 1",
            ["Docker engine  skipped  not needed: no_docker=yes", "Mode: local-no-docker"],
            id="opted-out",
        ),
    ],
)
def test_preflight_docker_detection(
    sandbox: Sandbox,
    tool_bin: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_docker: str,
    docker: str | None,
    expected: list[str],
) -> None:
    fake_tool(tool_bin, "uv", FAKE_UV)
    if docker is not None:
        fake_tool(tool_bin, "docker", docker)
    monkeypatch.setenv("PATH", str(tool_bin))
    monkeypatch.setenv("FASTAPI_TEMPLATE_MODE", "auto")
    sandbox_context = {"_output_dir": str(sandbox.out), "no_docker": no_docker}

    started = time.monotonic()
    run_pre_gen(sandbox, **sandbox_context)

    out = capfd.readouterr().out
    for text in expected:
        assert text in out, out
    assert time.monotonic() - started < 20


def test_preflight_says_what_a_chosen_mode_misses(
    sandbox: Sandbox,
    tool_bin: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", str(tool_bin))
    monkeypatch.setenv("FASTAPI_TEMPLATE_MODE", "local-no-docker")

    run_pre_gen(sandbox, _output_dir=str(sandbox.out), no_docker="yes")

    out = capfd.readouterr().out
    assert "Mode: local-no-docker (chosen by FASTAPI_TEMPLATE_MODE;" in out
    assert "Missing for local-no-docker: uv, Python 3.12" in out


def test_a_cruft_update_rerender_prints_nothing(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """cruft calls generate_files directly (no _output_dir, a _commit) and `cruft update` renders
    into a fresh temporary folder: a re-render, so no preflight."""
    monkeypatch.setenv("FASTAPI_TEMPLATE_MODE", "auto")
    fresh = Path(tempfile.mkdtemp())  # what cruft's TemporaryDirectory makes
    try:
        project = fresh / "my-service"
        project.mkdir()
        context = {
            "cookiecutter": {**VALID_CONTEXT, "_template": str(TEMPLATE), "_commit": "0" * 40}
        }
        run_hook_from_repo_dir(str(TEMPLATE), "pre_gen_project", project, context, False)
    finally:
        shutil.rmtree(fresh)
    out, err = capfd.readouterr()
    assert out == ""
    assert err == ""


def test_a_cruft_create_render_runs_the_preflight(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cruft create` has no _output_dir either, but renders where the user asked: a first bake."""
    monkeypatch.setenv("FASTAPI_TEMPLATE_MODE", "auto")
    run_pre_gen(sandbox, _commit="0" * 40)
    assert "Preflight: tools for the checks after generation" in capfd.readouterr().out


def test_cruft_render_with_bad_values_still_fails_cleanly(
    sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        run_pre_gen(sandbox, _commit="0" * 40, no_docker="maybe", _template=None)
    err = capfd.readouterr().err
    assert_names(err, "no_docker", "maybe")
    # cruft takes the values as JSON, not as cookiecutter's key=value words.
    assert """cruft create '<template>' --no-input --extra-context '{"no_docker": "no"}'""" in err


# ---------------------------------------------------------------- the rendered hook itself

# Every character that could break out of a string literal, a Jinja block or a JSON document.
NASTY = "x\"\"\"'''\\\\n{{ 7*7 }}{% endraw %}{#\u2028\x00</script>&😀\n"


def render_hook(context: dict[str, Any]) -> str:
    env = create_env_with_context(context)
    return env.from_string(HOOK.read_text(encoding="utf-8")).render(**context)


def find_python(version: str) -> str | None:
    try:
        return python_for(version)
    except LookupError:
        return None


@pytest.mark.parametrize("version", ["3.10", "3.11", "3.12", "3.13"])
def test_rendered_hook_runs_on_every_supported_python(
    sandbox: Sandbox, tmp_path: Path, version: str
) -> None:
    python = find_python(version)
    if python is None:
        if os.environ.get("CI"):  # CI installs every one of them (.github/workflows/ci.yml)
            pytest.fail(f"no Python {version} on CI: the hooks must run on it")
        pytest.skip(f"no Python {version} here")
    hostile = {"project_name": NASTY, "description": NASTY, "python_version": NASTY}
    typed = dict.fromkeys(hostile, NASTY)
    context = {"cookiecutter": {**VALID_CONTEXT, **hostile}, "_cookiecutter": typed}
    script = tmp_path / "pre_gen_project.py"
    script.write_text(render_hook(context), encoding="utf-8")
    project = sandbox.out / "project"
    project.mkdir()
    env = {**os.environ, "FASTAPI_TEMPLATE_MODE": "render-only"}

    rejected = subprocess.run(
        [python, str(script)], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    script.write_text(render_hook({"cookiecutter": VALID_CONTEXT}), encoding="utf-8")
    accepted = subprocess.run(
        [python, str(script)], cwd=project, env=env, capture_output=True, text=True, check=False
    )

    assert rejected.returncode == 1, rejected.stderr
    assert "Cannot generate the project: 3 inputs are invalid." in rejected.stderr
    for name in hostile:
        assert f"  - {name} = {NASTY!r}" in rejected.stderr  # the value survived intact
    assert "Traceback" not in rejected.stderr
    assert (accepted.returncode, accepted.stdout, accepted.stderr) == (0, "", "")


def test_hook_is_valid_python_before_rendering() -> None:
    compile(HOOK.read_text(encoding="utf-8"), str(HOOK), "exec")
