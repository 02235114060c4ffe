"""Gates tier: the baked README's "Adding a resource", followed word for word on a real bake.

Every step of that section is a sentence ending in a colon followed by a code block: "Create
`path`:", "In `path`, after the line `…`, add:", "In `path`, replace the line `…` with:" or
"Run:". This test reads the steps from the README (it holds no copy of them), applies them to a
copy of a baked project, and then every gate must pass: the guide cannot drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bake import NAMED, Baked, combination_params
from tests.guide import copy_of, follow, steps
from tools.database import throwaway_database

EXAMPLE = [NAMED["service"]]


def newest_migration(project: Path) -> Path:
    return max((project / "alembic" / "versions").glob("*.py"), key=lambda p: p.stat().st_mtime)


@pytest.mark.parametrize("baked", combination_params(EXAMPLE), indirect=True)
def test_the_readme_adds_a_resource_and_every_gate_passes(baked: Baked, tmp_path: Path) -> None:
    copy = copy_of(baked, tmp_path)
    guide = steps((copy / "README.md").read_text(), "Adding a resource")
    assert [s.kind for s in guide].count("run") == 2  # migration, then the gates

    def review(code: str) -> None:
        """The "review" step after the autogenerate command, as a reader would."""
        if "--autogenerate" not in code:
            return
        migration = newest_migration(copy).read_text()
        assert 'op.create_table(\n        "orders"' in migration, migration
        assert 'sa.ForeignKeyConstraint(["item_id"], ["items.id"]' in migration
        assert "op.create_index(" in migration
        # The status as text with a CHECK: no PostgreSQL type left by a downgrade.
        assert "native_enum=False" in migration
        assert "create_constraint=True" in migration
        assert 'sa.UniqueConstraint("reference"' in migration

    with throwaway_database() as url:
        project = Baked(copy, baked.context, {**baked.env, "DATABASE_URL": url})
        sync = project.uv("sync", "--locked")
        assert sync.returncode == 0, sync.stderr
        follow(project, guide, after_run=review)
        # The gates above ran the whole suite; this proves the guide's own tests were in it.
        orders = project.uv("run", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_orders.py")
    assert orders.returncode == 0, orders.stdout
    assert re.search(r"^\d+ passed", orders.stdout.splitlines()[-1]), orders.stdout
