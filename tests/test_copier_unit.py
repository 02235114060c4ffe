"""unit tier: what copier.yml is made of, and how the unrendered hooks take their context from a
Copier task."""

from __future__ import annotations

import json
import tomllib
import urllib.parse

import pytest

from tests.bake import PROJECT_FOLDER, TEMPLATE_DIR
from tests.hook_modules import hook
from tools import copier_questions

COOKIECUTTER = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))


def test_every_input_is_a_question_with_its_prompt_and_the_hooks_validator() -> None:
    data = copier_questions.settings()
    questions = {
        name: q
        for name, q in copier_questions.yaml.safe_load(copier_questions.render()).items()
        if not name.startswith("_")
    }
    inputs = [name for name in COOKIECUTTER if not name.startswith("_")]
    assert list(questions) == inputs  # the same order: Copier validates in it
    for name, question in questions.items():
        assert question["help"] == COOKIECUTTER["__prompts__"][name]
        assert question["validator"] == f"{{{{ pre_gen_problem('{name}') }}}}"
        assert "cookiecutter." not in question["default"]
    assert data["_tasks"][0]["when"] == "{{ _copier_operation == 'copy' }}"


@pytest.mark.parametrize(
    ("cookiecutter_default", "copier_default"),
    [
        (
            "{{ cookiecutter.project_name | replace('-', '_') }}",
            "{{ project_name | replace('-', '_') }}",
        ),
        (
            "{{ 'no' if cookiecutter.no_docker == 'yes' else 'yes' }}",
            "{{ 'no' if no_docker == 'yes' else 'yes' }}",
        ),
        ("A FastAPI service.", "A FastAPI service."),
    ],
)
def test_rendered_defaults_lose_the_namespace(
    cookiecutter_default: str, copier_default: str
) -> None:
    assert copier_questions.copier_default(cookiecutter_default) == copier_default


def test_every_pruned_path_is_excluded_under_its_option() -> None:
    excludes = copier_questions.excludes()
    table = hook("post_gen_project").prune_table("{{ module_name }}")
    assert len(excludes) == sum(len(paths) for paths in table.values())
    for (option, value), paths in table.items():
        for path in paths:
            assert f"{{% if {option} == {value!r} %}}/{path}{{% endif %}}" in excludes


def test_skip_if_exists_is_the_baked_cruft_skip() -> None:
    pyproject = (TEMPLATE_DIR / PROJECT_FOLDER / "pyproject.toml").read_text(encoding="utf-8")
    # Jinja: `{%- if %}` lines around optional dependencies (left out: both branches stay TOML),
    # and expressions inside strings.
    toml = "\n".join(line for line in pyproject.splitlines() if not line.startswith("{%"))
    skip = tomllib.loads(toml)["tool"]["cruft"]["skip"]
    assert copier_questions.cruft_skip() == [f"/{path}" for path in skip]


@pytest.mark.parametrize("name", ["pre_gen_project", "post_gen_project"])
def test_an_unrendered_hook_takes_the_context_from_its_task_argument(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = {"project_name": "orders-api", "module_name": "orders_api"}
    encoded = urllib.parse.quote(json.dumps(context))
    monkeypatch.setattr("sys.argv", [name, f"--context={encoded}", "--typed=%7B%7D"])
    loaded = hook(name).load_context()
    assert (loaded[0] if name == "pre_gen_project" else loaded) == context


def test_without_the_argument_an_unrendered_hook_refuses_to_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.argv", ["pre_gen_project"])
    with pytest.raises(ValueError, match="Expecting"):
        hook("pre_gen_project").load_context()
