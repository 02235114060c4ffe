"""copier tier: `copier copy` bakes, byte for byte, what cookiecutter and `cruft create` bake, for
every bake of the option matrix (the CLIs, from a clone at HEAD); Copier's Python API renders
every other combination as cookiecutter's does (in process, on the committed files: a second
each); copier.yml is what tools/copier_questions.py makes of cookiecutter.json; the answers file
records no secret."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import copier
import plumbum
import pytest
import yaml

from tests.bake import ALL_COMBINATIONS, MATRIX, combination_id, combination_params
from tests.copier_drill import (
    ANSWERS_FILE,
    clone_at_head,
    committed_files,
    cookiecutter_in_process,
    copier_copy,
)
from tests.cruft_drill import RENDER_ONLY, cookiecutter_bake, cruft_create, drill_env, file_tree
from tools import copier_questions

PROJECT_NAME = "parity-svc"
# Each tool's own record of the answers; everything else must be the same bytes.
RECORDS = {"cookiecutter": set(), "cruft": {".cruft.json"}, "copier": {ANSWERS_FILE}}
PASSWORD = re.compile(r"(POSTGRES_PASSWORD=|://[^:@/]+:)([^@\n]+)")


def test_copier_yml_is_generated_from_cookiecutter_json() -> None:
    committed = copier_questions.COPIER_YML.read_text(encoding="utf-8")
    assert committed == copier_questions.render(), (
        "copier.yml is out of date: uv run python -m tools.copier_questions"
    )


def masked(tree: dict[str, bytes]) -> dict[str, bytes]:
    """The tree with the local password in .env (made afresh by every bake) masked."""
    env = tree.get(".env")
    if env is not None:
        tree[".env"] = PASSWORD.sub(r"\1<password>", env.decode()).encode()
    return tree


def modes(root: Path) -> dict[str, int]:
    return {
        path.relative_to(root).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in sorted(root.rglob("*"))
        if ".git" not in path.relative_to(root).parts
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone_at_head(tmp_path_factory.mktemp("copier-template") / "template", drill_env())


@pytest.mark.parametrize("combination", combination_params(MATRIX))
def test_copier_bakes_what_cookiecutter_and_cruft_bake(
    combination: dict[str, str], template: Path, tmp_path: Path
) -> None:
    context = {"project_name": PROJECT_NAME, **combination}
    env = drill_env(RENDER_ONLY)
    projects = {
        "cookiecutter": tmp_path / "cookiecutter" / PROJECT_NAME,
        "cruft": tmp_path / "cruft" / PROJECT_NAME,
        "copier": tmp_path / "copier" / PROJECT_NAME,
    }
    for project in projects.values():
        project.parent.mkdir()
    cookiecutter_bake(template, projects["cookiecutter"].parent, env, context)
    cruft_create(template, projects["cruft"].parent, env, context)
    copied = copier_copy(template, projects["copier"], env, context)
    assert copied.returncode == 0, copied.stdout + copied.stderr

    trees = {tool: masked(file_tree(path)) for tool, path in projects.items()}
    for tool, records in RECORDS.items():
        assert records <= set(trees[tool]), f"{tool} wrote no {records}"
        for record in records:
            del trees[tool][record]
    assert ".env" in trees["cookiecutter"]
    assert trees["copier"].keys() == trees["cookiecutter"].keys()
    copier, cookiecutter = trees["copier"], trees["cookiecutter"]
    assert [path for path in copier if copier[path] != cookiecutter[path]] == []
    assert trees["cruft"] == trees["cookiecutter"]
    copier_modes = {k: v for k, v in modes(projects["copier"]).items() if k != ANSWERS_FILE}
    assert copier_modes == modes(projects["cookiecutter"])

    answers = yaml.safe_load((projects["copier"] / ANSWERS_FILE).read_text(encoding="utf-8"))
    assert {key: answers[key] for key in context} == context
    assert not PASSWORD.search(answers["database_url"]), "the answers file holds a password"


# The combinations the CLI test above does not bake.
OTHERS = [combination for combination in ALL_COMBINATIONS if combination not in MATRIX]


@pytest.fixture(scope="module")
def committed(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return committed_files(template, tmp_path_factory.mktemp("copier-committed") / "template")


@pytest.mark.parametrize("combination", OTHERS, ids=combination_id)
def test_copier_renders_every_other_combination_as_cookiecutter_does(
    combination: dict[str, str],
    committed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FASTAPI_TEMPLATE_MODE", "render-only")
    monkeypatch.chdir(tmp_path)
    context = {"project_name": PROJECT_NAME, **combination}
    baked = cookiecutter_in_process(committed, tmp_path / "cookiecutter", context)
    copied = tmp_path / "copier" / PROJECT_NAME
    # Copier runs its tasks with plumbum's environment, a copy of os.environ made at import.
    with plumbum.local.env(FASTAPI_TEMPLATE_MODE="render-only"):
        copier.run_copy(
            str(committed), str(copied), data=context, defaults=True, unsafe=True, quiet=True
        )
    trees = {"cookiecutter": masked(file_tree(Path(baked))), "copier": masked(file_tree(copied))}
    del trees["copier"][ANSWERS_FILE]
    assert trees["copier"].keys() == trees["cookiecutter"].keys()
    assert [
        path for path in trees["copier"] if trees["copier"][path] != trees["cookiecutter"][path]
    ] == []
