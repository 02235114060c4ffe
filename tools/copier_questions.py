"""Write `copier.yml` from `cookiecutter.json`, the one source of the questions.

    uv run python -m tools.copier_questions          # rewrite copier.yml
    uv run python -m tools.copier_questions --check  # exit 1 when copier.yml is out of date

Each input becomes a question with its prompt as help, its default (a rendered default such as
`{{ cookiecutter.project_name | replace('-', '_') }}` loses the `cookiecutter.` namespace, which
Copier answers do not have) and a validator that asks the pre-gen hook's rule for that input. The
post-gen hook's `prune_table()` becomes `_exclude`, so the removals apply on every Copier render,
the two of `copier update` included; the baked pyproject.toml's `[tool.cruft] skip` becomes
`_skip_if_exists`. tests/test_copier_render.py holds the committed file to this output.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from types import ModuleType
from typing import Any

import yaml

from tools.machine import PROJECT_FOLDER, TEMPLATE_DIR

COPIER_YML = TEMPLATE_DIR / "copier.yml"
HEADER = """\
# Generated from cookiecutter.json by `uv run python -m tools.copier_questions`: edit
# cookiecutter.json (and the hooks), then run it again. The README's "Copier or cruft" says how
# the two tools render the same template.
"""
EXTENSION = "tools/copier_extension.py"
# Copier's own default exclusions, which setting `_exclude` replaces.
COPIER_EXCLUDES = [
    "copier.yaml",
    "copier.yml",
    "~*",
    "*.py[co]",
    "__pycache__",
    ".git",
    ".DS_Store",
]
SKIP_LINE = re.compile(r"^skip = (\[.*\])$", re.MULTILINE)


def post_gen_hook() -> ModuleType:
    """The post-gen hook, imported from its unrendered file (it reads its context in main())."""
    path = TEMPLATE_DIR / "hooks" / "post_gen_project.py"
    spec = importlib.util.spec_from_file_location("template_post_gen_project", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


def copier_default(value: str) -> str:
    return re.sub(r"\bcookiecutter\.", "", value)


def question(name: str, default: Any, prompt: str) -> dict[str, Any]:
    if not isinstance(default, str):
        raise SystemExit(
            f"cookiecutter.json: {name} is a {type(default).__name__}; inputs are plain strings "
            "(CONTRIBUTING.md, 'Adding an input')"
        )
    return {
        "type": "str",
        "help": prompt,
        "default": copier_default(default),
        "validator": f"{{{{ pre_gen_problem({name!r}) }}}}",
    }


def excludes() -> list[str]:
    """Each path the post-gen hook prunes, excluded when its option has the value that prunes it
    (an empty pattern matches nothing)."""
    patterns = []
    for (option, value), paths in post_gen_hook().prune_table("{{ module_name }}").items():
        for path in paths:
            patterns.append(f"{{% if {option} == {value!r} %}}/{path}{{% endif %}}")
    return patterns


def cruft_skip() -> list[str]:
    pyproject = TEMPLATE_DIR / PROJECT_FOLDER / "pyproject.toml"
    found = SKIP_LINE.search(pyproject.read_text(encoding="utf-8"))
    if found is None:
        raise SystemExit(f"{pyproject}: no `skip = [...]` line under [tool.cruft]")
    return [f"/{path}" for path in json.loads(found.group(1))]


def task(hook: str) -> dict[str, Any]:
    """A hook run as cookiecutter runs it, in the new project, with the context it would get; on
    a first copy only: `copier update` renders twice in temporary folders and once in the project,
    none of which may lock, install or commit."""
    return {
        "command": [
            "{{ _copier_python }}",
            f"{{{{ pathjoin(_copier_conf.src_path, 'hooks', '{hook}.py') }}}}",
            "--context={{ cookiecutter | tojson | urlencode }}",
            "--typed={{ cookiecutter_typed() | tojson | urlencode }}",
        ],
        "when": "{{ _copier_operation == 'copy' }}",
    }


def settings() -> dict[str, Any]:
    return {
        "_min_copier_version": "9.19.1",
        # The cookiecutter folder is the template: its files keep `{{ cookiecutter.x }}`.
        "_subdirectory": f"{{% raw %}}{PROJECT_FOLDER}{{% endraw %}}",
        "_templates_suffix": "",
        "_answers_file": ".copier-answers.yml",
        "_jinja_extensions": [
            "copier_template_extensions.TemplateExtensionLoader",
            f"{EXTENSION}:CookiecutterNamespace",
            f"{EXTENSION}:PreGenRules",
        ],
        "_exclude": [*COPIER_EXCLUDES, *excludes()],
        "_skip_if_exists": cruft_skip(),
        "_tasks": [task("pre_gen_project"), task("post_gen_project")],
    }


def render() -> str:
    source = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    prompts = source.get("__prompts__", {})
    data = settings()
    for name, default in source.items():
        if not name.startswith("_"):
            data[name] = question(name, default, prompts.get(name, name))
    body = yaml.safe_dump(data, sort_keys=False, width=1000, allow_unicode=True)
    return HEADER + body


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = COPIER_YML.read_text(encoding="utf-8") if COPIER_YML.exists() else ""
        if current != text:
            print("copier.yml is out of date: uv run python -m tools.copier_questions")
            return 1
        return 0
    COPIER_YML.write_text(text, encoding="utf-8")
    print(f"wrote {COPIER_YML.relative_to(TEMPLATE_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
