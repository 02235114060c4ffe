"""What Copier needs to render the cookiecutter template (copier.yml loads it; `--trust`).

`CookiecutterNamespace` gives every render the `cookiecutter` mapping the template's files and the
hooks read: the answers to cookiecutter.json's inputs, its `_python_versions`, `_template` and
`_output_dir` as cookiecutter sets them (so the hooks take a Copier copy for a first bake, never
for a cruft update), and `_copier_destination` for the hook's "run again" command; it also adds
templates/ to the places Jinja looks for imported files, as cookiecutter does. `PreGenRules`
gives the validators `pre_gen_problem(name)`: the pre-gen hook's own rule for that input, worded
as the hook words its line for it, or "" when the answer is good; and the tasks
`cookiecutter_typed()`, the values before rendering, as cookiecutter gives them to the hook.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path, PurePath
from types import ModuleType
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import Environment, FileSystemLoader, TemplateError, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]


@cache
def cookiecutter_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text("utf-8"))
    return data


@cache
def pre_gen_hook() -> ModuleType:
    """The hook's rules, from its unrendered file (it reads its context in main() only)."""
    path = TEMPLATE_ROOT / "hooks" / "pre_gen_project.py"
    spec = importlib.util.spec_from_file_location("copier_pre_gen_project", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def inputs() -> list[str]:
    return [name for name in cookiecutter_json() if not name.startswith("_")]


def cookiecutter_context(answers: Any) -> dict[str, Any]:
    """The answers given so far, as cookiecutter's context holds them."""
    context = {name: answers[name] for name in inputs() if name in answers}
    context["_python_versions"] = cookiecutter_json()["_python_versions"]
    conf = answers.get("_copier_conf")
    if conf is not None:
        # The template as the user named it (the answers file's `_src_path`), not Copier's clone.
        recorded = answers.get("_copier_answers") or {}
        context["_template"] = str(recorded.get("_src_path") or conf["src_path"])
        context["_output_dir"] = str(PurePath(conf["dst_path"]).parent)
        context["_copier_destination"] = str(conf["dst_path"])
    return context


class CookiecutterNamespace(ContextHook):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        # cookiecutter finds the files the template imports (migrations.jinja) in templates/.
        loader = environment.loader
        if isinstance(loader, FileSystemLoader):
            loader.searchpath.append(str(TEMPLATE_ROOT / "templates"))

    def hook(self, context: dict[str, Any]) -> None:
        context["cookiecutter"] = cookiecutter_context(context)


def given(answers: Any) -> dict[str, Any]:
    """The answers passed with `--data` (or recorded, on an update)."""
    conf = answers.get("_copier_conf")
    data = conf["data"] if conf is not None else {}
    return dict(data or {})


@pass_context
def cookiecutter_typed(jinja_context: Context) -> dict[str, Any]:
    """What cookiecutter's `_cookiecutter` holds for the hook: each value before rendering. An
    answer that is its rendered default (`{{ cookiecutter.project_name ... }}`) and was not given
    with `--data` is that default, so the hook can say a bad module_name was derived from
    project_name; any other answer is as typed."""
    data = given(jinja_context)
    context = cookiecutter_context(jinja_context)
    typed = {}
    for name in inputs():
        raw, value = cookiecutter_json()[name], context.get(name)
        derived = name not in data and isinstance(raw, str) and "{{" in raw
        typed[name] = raw if derived and value == rendered(jinja_context, raw, context) else value
    return typed


def rendered(jinja_context: Context, template: str, context: dict[str, Any]) -> str | None:
    try:
        return jinja_context.environment.from_string(template).render(cookiecutter=context)
    except TemplateError:
        return None


@pass_context
def pre_gen_problem(jinja_context: Context, name: str) -> str:
    hook = pre_gen_hook()
    context = cookiecutter_context(jinja_context)
    value = context.get(name)
    rule = hook.RULES.get(name)
    if rule is None:
        return ""
    if not isinstance(value, str):
        wrong = f"must be a string, not {type(value).__name__}"
    else:
        wrong = "; ".join(rule.check(value, context))
    if not wrong:
        return ""
    origin = hook.origin(name, context, cookiecutter_typed(jinja_context))
    problem = hook.Problem(name, value, wrong, rule.example(value, context), origin)
    return str(hook.problem_line(problem))


class PreGenRules(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.globals["pre_gen_problem"] = pre_gen_problem
        environment.globals["cookiecutter_typed"] = cookiecutter_typed
