"""CHANGELOG.md: the template's version has an entry, and every entry names its manual steps."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.bake import TEMPLATE_DIR

HEADING = re.compile(r"## (?P<version>\d+\.\d+\.\d+\S*) \((?P<date>\d{4}-\d{2}-\d{2}|unreleased)\)")
MANUAL_STEPS = "- After updating to this release: "


def template_version() -> str:
    pyproject = tomllib.loads((TEMPLATE_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    return str(pyproject["project"]["version"])


def entries() -> list[tuple[str, list[str]]]:
    """Each release heading with the lines under it, in file order."""
    found: list[tuple[str, list[str]]] = []
    for line in (TEMPLATE_DIR / "CHANGELOG.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            found.append((line, []))
        elif found:
            found[-1][1].append(line)
    return found


def versions() -> list[str]:
    return [match["version"] for heading, _ in entries() if (match := HEADING.fullmatch(heading))]


def test_every_heading_names_a_version_and_a_date_once() -> None:
    headings = [heading for heading, _ in entries()]
    malformed = [heading for heading in headings if not HEADING.fullmatch(heading)]
    assert malformed == [], "expected `## <version> (<YYYY-MM-DD>|unreleased)`"
    assert len(set(versions())) == len(headings), f"a version has two entries: {headings}"


def test_the_template_version_has_an_entry() -> None:
    assert template_version() in versions()


@pytest.mark.parametrize(("heading", "lines"), entries(), ids=[h for h, _ in entries()])
def test_each_entry_names_its_manual_steps(heading: str, lines: list[str]) -> None:
    steps = [line for line in lines if line.startswith(MANUAL_STEPS)]
    assert len(steps) == 1, f"{heading}: one line starting {MANUAL_STEPS!r}"
    assert steps[0].removeprefix(MANUAL_STEPS).strip(), f"{heading}: the manual steps are empty"
