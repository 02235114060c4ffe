"""The tier table: every test file is in it, every tier is declared and named in the README."""

from __future__ import annotations

import re
import tomllib

from tests.bake import TEMPLATE_DIR
from tests.tiers import TIERS, every_tier


def declared_markers() -> set[str]:
    pyproject = tomllib.loads((TEMPLATE_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    markers = pyproject["tool"]["pytest"]["ini_options"]["markers"]
    return {marker.split(":", 1)[0].strip() for marker in markers}


def readme_tiers() -> set[str]:
    """The first column of the README's tier table, under "The template's own tests"."""
    readme = (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The template's own tests", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))


def test_every_test_file_is_in_the_table() -> None:
    files = {path.name for path in (TEMPLATE_DIR / "tests").glob("test_*.py")}
    assert sorted(files - set(TIERS)) == []
    assert sorted(set(TIERS) - files) == [], "the table names files that do not exist"


def test_every_tier_is_a_declared_marker() -> None:
    assert sorted(set(every_tier()) - declared_markers()) == []


def test_the_readme_lists_exactly_the_tiers() -> None:
    assert readme_tiers() == set(every_tier())
