"""copier tier: the hostile inputs the hooks tier feeds cookiecutter are refused by `copier copy`
with the hook's own line for that variable, and nothing is written.

Copier's validators stop at the first bad answer, in question order (cookiecutter.json's order,
the hook's too), so the line compared is the first one of cookiecutter's message. Values holding
Jinja markers are left out: cookiecutter renders a typed value as a template before the hook sees
it (its message says so), Copier takes it as typed, so the two messages differ on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.copier_drill import clone_at_head, copier_copy
from tests.cruft_drill import RENDER_ONLY, attempt, drill_env
from tests.test_pre_gen_validation import HOSTILE
from tools.machine import tool

JINJA_MARKERS = ("{{", "{%", "{#")


def sample() -> list:
    """The first, middle and last hostile value of each variable (each Copier run takes seconds),
    without Jinja markers."""
    by_name: dict[str, list] = {}
    for case in HOSTILE:
        name, value = case.values
        if not any(marker in value for marker in JINJA_MARKERS):
            by_name.setdefault(name, []).append(case)
    chosen = []
    for cases in by_name.values():
        picks = {0: cases[0], len(cases) // 2: cases[len(cases) // 2], -1: cases[-1]}
        chosen += list(dict.fromkeys(picks.values()))
    return chosen


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


@pytest.mark.parametrize(("name", "value"), [*sample(), DERIVED])
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
