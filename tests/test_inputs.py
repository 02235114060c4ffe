"""cookiecutter.json is the one source of the inputs: the README's inputs table, the prompts and
the hook's rules follow it, and the supported Pythons are listed there once."""

from __future__ import annotations

import json
import re

import jinja2

from tests.bake import PYTHON_VERSIONS, TEMPLATE_DIR
from tests.hook_modules import hook

COOKIECUTTER = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
INPUTS = {key: value for key, value in COOKIECUTTER.items() if not key.startswith("_")}
PROMPTS: dict[str, str] = COOKIECUTTER["__prompts__"]
VERSION = re.compile(r"`(\d+\.\d+)`")


def readme_inputs() -> dict[str, tuple[str, str]]:
    """The README's inputs table: variable -> (default cell, rule cell)."""
    readme = (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Inputs\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \| (.*) \|$", section, flags=re.MULTILINE)
    return {name: (default, rule) for name, default, rule in rows}


def test_the_readme_table_lists_every_input_once_in_order() -> None:
    assert list(readme_inputs()) == list(INPUTS)


def test_the_readme_table_shows_each_literal_default() -> None:
    table = readme_inputs()
    wrong = {
        name: table[name][0]
        for name, default in INPUTS.items()
        if "{{" not in default and not table[name][0].startswith(f"`{default}`")
    }
    assert wrong == {}


def test_the_readme_names_exactly_the_supported_pythons() -> None:
    default, rule = readme_inputs()["python_version"]
    assert VERSION.findall(rule) == list(PYTHON_VERSIONS)
    assert VERSION.findall(default)[0] in PYTHON_VERSIONS


def test_every_input_has_a_prompt_and_a_rule() -> None:
    assert sorted(COOKIECUTTER["__prompts__"]) == sorted(INPUTS)
    assert sorted(hook("pre_gen_project").RULES) == sorted(INPUTS)


def rendered_defaults() -> dict[str, str]:
    """Each default as cookiecutter shows it: rendered, in order, from the ones before it."""
    rendered: dict[str, str] = {}
    for name, raw in INPUTS.items():
        template = jinja2.Environment(autoescape=False).from_string(raw)  # noqa: S701 - not HTML
        rendered[name] = template.render(cookiecutter=rendered)
    return rendered


def test_every_prompt_and_its_default_fit_one_terminal_line() -> None:
    """cookiecutter prints the prompt, then the default in brackets, on one line."""
    defaults = rendered_defaults()
    lengths = {name: len(prompt) + len(defaults[name]) for name, prompt in PROMPTS.items()}
    assert {name: length for name, length in lengths.items() if length > 110} == {}


def test_the_python_prompt_names_exactly_the_supported_pythons() -> None:
    prompt = COOKIECUTTER["__prompts__"]["python_version"]
    assert re.findall(r"\d+\.\d+", prompt) == list(PYTHON_VERSIONS)


def test_the_default_python_is_supported() -> None:
    assert INPUTS["python_version"] in PYTHON_VERSIONS


def test_the_pre_gen_hook_accepts_exactly_the_supported_pythons() -> None:
    pre = hook("pre_gen_project")
    context = {"_python_versions": COOKIECUTTER["_python_versions"]}
    for version in PYTHON_VERSIONS:
        assert pre.check_python_version(version, context) == []
    for version in sorted({"3", "3.10", "3.11", "3.14", "3.12.1"} - set(PYTHON_VERSIONS)):
        assert pre.check_python_version(version, context) != [], version
