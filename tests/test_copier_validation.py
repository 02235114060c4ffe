"""copier tier: the hostile inputs the hooks tier feeds cookiecutter are refused by Copier with
the hook's own line for that variable, and nothing is written.

Every hostile value goes through Copier's Python API (`copier.run_copy`, on the committed files
without git history, so no clone per value: milliseconds each) against cookiecutter's line for
it; the first of each variable also goes through the `copier copy` CLI a user types.

Copier's validators stop at the first bad answer, in question order (cookiecutter.json's order,
the hook's too), so the line compared is the first one of cookiecutter's message. Values holding
Jinja markers or a carriage return are left out: cookiecutter renders a typed value as a template
before the hook sees it (Jinja also turns \r into \n; its message says so), Copier takes it as
typed, so the two messages differ on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import copier
import pytest
from cookiecutter.exceptions import FailedHookException

from tests.copier_drill import clone_at_head, committed_files, cookiecutter_in_process, copier_copy
from tests.cruft_drill import RENDER_ONLY, attempt, drill_env
from tests.test_pre_gen_validation import HOSTILE
from tools.machine import tool

RENDERED = ("{{", "{%", "{#", "\r")  # what cookiecutter's render changes in a typed value


def left_as_typed() -> list:
    """The hostile values that cookiecutter's render leaves as typed."""
    return [case for case in HOSTILE if not any(mark in case.values[1] for mark in RENDERED)]


def first_of_each_variable() -> list:
    """For the CLI, which takes seconds a run: each variable's first hostile value."""
    first: dict[str, object] = {}
    for case in left_as_typed():
        first.setdefault(case.values[0], case)
    return list(first.values())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone_at_head(tmp_path_factory.mktemp("copier-template") / "template", drill_env())


def cookiecutter_first_line(template: Path, out: Path, name: str, value: str) -> str:
    """The hook's line for the first invalid variable, as cookiecutter shows it."""
    args = [tool("cookiecutter"), "--no-input", "-o", str(out), str(template), f"{name}={value}"]
    result = attempt(args, out, drill_env(RENDER_ONLY), timeout=120)
    assert result.returncode != 0, result.stdout
    message = result.stderr.split("Cannot generate the project:", 1)[1]
    return message.split("\n  - ", 1)[1].split("\n", 1)[0]


def left_behind(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*"))


def assert_no_template_frame(output: str, template: Path) -> None:
    """Copier's CLI shows a bad `--data` or default answer as its own ValueError, with a
    traceback (the prompt asks again instead); no frame may be the template's code."""
    frames = re.findall(r'File "([^"]+)"', output)
    assert frames, "Copier 9.19 shows a traceback here; drop this check if it stops"
    ours = [f for f in frames if str(template) in f or "copier_extension" in f or "/hooks/" in f]
    assert ours == [], output


# A valid project_name whose derived default is not: Copier checks defaults too, and the line
# names where the value came from, as cookiecutter's does.
DERIVED = pytest.param("project_name", "json", id="module_name-derived-stdlib")


@pytest.mark.parametrize(("name", "value"), [*first_of_each_variable(), DERIVED])
def test_hostile_value_is_refused_with_the_hooks_line(
    template: Path, tmp_path: Path, name: str, value: str
) -> None:
    cookiecutter_out = tmp_path / "cookiecutter-out"
    cookiecutter_out.mkdir()
    expected = cookiecutter_first_line(template, cookiecutter_out, name, value)
    assert left_behind(cookiecutter_out) == []
    first = expected.split(" = ", 1)[0]

    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "sibling.txt").write_text("must survive\n", encoding="utf-8")
    result = copier_copy(template, out / "my-service", drill_env(RENDER_ONLY), {name: value})

    assert result.returncode != 0, result.stdout
    assert f"Validation error for question '{first}': {expected}" in result.stderr
    assert_no_template_frame(result.stdout + result.stderr, template)
    assert left_behind(out) == []
    assert (tmp_path / "sibling.txt").read_text(encoding="utf-8") == "must survive\n"
    assert not [*tmp_path.rglob("pwned*"), *template.rglob("pwned*")], "a value ran in a shell"


def test_a_bad_mode_fails_the_task_and_copier_deletes_the_fresh_project(
    template: Path, tmp_path: Path
) -> None:
    """The hook's one check that is no answer (FASTAPI_TEMPLATE_MODE) runs in its task, after
    the files are written: the task fails, and Copier removes the folder it made, as cookiecutter
    does."""
    out = tmp_path / "out"
    out.mkdir()
    env = drill_env({"FASTAPI_TEMPLATE_MODE": "fast"})
    result = copier_copy(template, out / "my-service", env, {})
    assert result.returncode != 0
    assert "FASTAPI_TEMPLATE_MODE = 'fast': (environment variable) must be one of" in result.stderr
    assert left_behind(out) == []


@pytest.fixture(scope="module")
def committed(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return committed_files(template, tmp_path_factory.mktemp("copier-committed") / "template")


def cookiecutter_line_in_process(
    template: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str], name: str, value: str
) -> str:
    out = tmp_path / "cookiecutter-out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        cookiecutter_in_process(template, out, {name: value})
    assert left_behind(out) == []
    message = capfd.readouterr().err.split("Cannot generate the project:", 1)[1]
    return message.split("\n  - ", 1)[1].split("\n", 1)[0]


@pytest.mark.parametrize(("name", "value"), left_as_typed())
def test_every_hostile_value_gets_the_hooks_line_from_copier_and_nothing_is_written(
    committed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv("FASTAPI_TEMPLATE_MODE", "render-only")
    monkeypatch.chdir(tmp_path)
    expected = cookiecutter_line_in_process(committed, tmp_path, capfd, name, value)
    out = tmp_path / "copier-out"
    out.mkdir()
    with pytest.raises(ValueError, match=r"^Validation error for question") as refused:
        copier.run_copy(
            str(committed),
            str(out / "my-service"),
            data={name: value},
            defaults=True,
            unsafe=True,  # what --trust allows: the extension
            quiet=True,
        )
    first = expected.split(" = ", 1)[0]
    assert str(refused.value) == f"Validation error for question '{first}': {expected}"
    assert left_behind(out) == []
    assert not [*tmp_path.rglob("pwned*"), *committed.rglob("pwned*")], "a value ran"
