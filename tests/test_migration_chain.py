"""Render tier: every combination of the options the migrations depend on renders one chain of
Alembic revisions, base to a single head, in the order of their file names.

The options are read from `templates/migrations.jinja` (the chain's one table), so a revision
that a new option includes or excludes is covered as soon as its line names that option.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from pathlib import Path

import jinja2
import pytest

from tests.bake import TEMPLATE_DIR

CHAIN = TEMPLATE_DIR / "templates" / "migrations.jinja"
TEMPLATE_ID = re.compile(r"t\d{4}")
LEGACY_IDS = ("0001", "0002")  # released in 0.1.0 with numeric ids: databases store them


def chain_options() -> list[str]:
    return sorted(set(re.findall(r"cookiecutter\.(\w+)", CHAIN.read_text(encoding="utf-8"))))


def option_values(name: str) -> list[str]:
    default = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))[name]
    return list(default) if isinstance(default, list) else ["yes", "no"]


def combinations() -> list[dict[str, str]]:
    names = chain_options()
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(option_values(name) for name in names))
    ]


def combination_id(context: dict[str, str]) -> str:
    return "-".join(f"{name}={value}" for name, value in context.items())


def revisions(project: Path) -> dict[str, tuple[str | None, str]]:
    """Each revision id in alembic/versions: its down_revision and its file name."""
    found: dict[str, tuple[str | None, str]] = {}
    for path in sorted((project / "alembic" / "versions").glob("*.py")):
        values = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                values[node.target.id] = ast.literal_eval(node.value) if node.value else None
        revision = values["revision"]
        assert revision not in found, f"{path.name}: revision {revision} twice"
        found[revision] = (values["down_revision"], path.name)
    return found


Walk = list[tuple[str, str | None, str]]


@pytest.fixture(scope="module", params=combinations(), ids=combination_id)
def rendered(request: pytest.FixtureRequest, render) -> dict[str, tuple[str | None, str]]:
    return revisions(render(**request.param))


@pytest.fixture(scope="module")
def chain(rendered: dict[str, tuple[str | None, str]]) -> Walk:
    """The rendered revisions of one combination, walked from the base: (id, parent, file)."""
    found = rendered
    children: dict[str | None, list[str]] = {}
    for revision, (parent, _) in found.items():
        assert parent is None or isinstance(parent, str), f"{revision}: a merge in the template"
        assert parent is None or parent in found, f"{revision}: parent {parent} is not rendered"
        children.setdefault(parent, []).append(revision)
    walk, current = [], None
    while current in children:
        assert len(children[current]) == 1, f"branches below {current}: {children[current]}"
        current = children[current][0]
        walk.append((current, found[current][0], found[current][1]))
    return walk


def test_the_options_of_the_chain_are_known() -> None:
    assert "include_example" in chain_options()
    assert len(combinations()) == 2 ** len(chain_options())


def test_one_chain_from_the_base_to_a_single_head(
    chain: Walk, rendered: dict[str, tuple[str | None, str]]
) -> None:
    assert [revision for revision, _, _ in chain] != []
    assert chain[0][1] is None
    assert sorted(r for r, _, _ in chain) == sorted(rendered), "a revision is off the chain"


def test_the_chain_follows_the_file_names(chain: Walk) -> None:
    files = [file for _, _, file in chain]
    assert files == sorted(files)


def test_template_ids_never_take_a_project_number(chain: Walk) -> None:
    """A project numbers its own revisions 0003, 0004, ... (alembic/env.py); the template's
    after 0002 are t0003, t0004, ..., in rising order along the chain."""
    ids = [revision for revision, _, _ in chain]
    assert all(r in LEGACY_IDS or TEMPLATE_ID.fullmatch(r) for r in ids), ids
    numbers = [int(r.lstrip("t")) for r in ids]
    assert numbers == sorted(set(numbers)), ids


def test_a_revision_missing_from_the_table_fails_the_render() -> None:
    environment = jinja2.Environment(  # noqa: S701 - Python source, as cookiecutter renders it
        loader=jinja2.FileSystemLoader(CHAIN.parent), undefined=jinja2.StrictUndefined
    )
    call = '{% from "migrations.jinja" import down_revision with context %}{{ down_revision(r) }}'
    template = environment.from_string(call)
    context = {"cookiecutter": dict.fromkeys(chain_options(), "yes")}
    assert template.render(r="t0003", **context) == "0002"
    with pytest.raises(jinja2.UndefinedError, match="not_in_templates_migrations_jinja"):
        template.render(r="t9999", **context)
