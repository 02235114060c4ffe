"""Which tier each test file belongs to: one table, applied to every test at collection.

Adding a test file is one line in `TIERS` (file name, then its tier). A test file missing from
the table fails the collection, and so does a tier marker a file sets that the table does not
give it, so `pytest -m "not (<every tier>)"` always selects nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS: dict[str, str] = {
    "test_adding_a_resource.py": "gates",
    "test_adding_a_job.py": "gates",
    "test_calling_the_api.py": "gates",
    "test_api_fuzz.py": "fuzz",
    "test_bench_quick.py": "bench",
    "test_changelog.py": "cruft",
    "test_containers.py": "containers",
    "test_copier_render.py": "copier",
    "test_copier_unit.py": "unit",
    "test_copier_update.py": "copier",
    "test_copier_validation.py": "copier",
    "test_cruft_rerender.py": "cruft",
    "test_cruft_update.py": "cruft",
    "test_deploy_recipe.py": "smoke",
    "test_faults.py": "faults",
    "test_job_faults.py": "faults",
    "test_first_week.py": "gates",
    "test_gates.py": "gates",
    "test_hooks_modes.py": "hooks",
    "test_hooks_unit.py": "unit",
    "test_inputs.py": "unit",
    "test_job_telemetry.py": "telemetry",
    "test_kubernetes.py": "static",
    "test_lowest_direct.py": "gates",
    "test_matrix.py": "unit",
    "test_migration_chain.py": "render",
    "test_no_secret_committed.py": "cruft",
    "test_nonroot_smoke.py": "smoke",
    "test_pre_gen_validation.py": "hooks",
    "test_release_update.py": "cruft",
    "test_render.py": "render",
    "test_server_limits.py": "faults",
    "test_static_validators.py": "static",
    "test_telemetry.py": "telemetry",
    "test_tiers.py": "unit",
    "test_update_conflicts.py": "cruft",
}


def every_tier() -> list[str]:
    return sorted(set(TIERS.values()))


class UntieredFile(pytest.File):
    """Stands in for a test file the table does not know: collecting it is an error."""

    def collect(self) -> list[pytest.Item]:
        raise self.CollectError(
            f"{self.path.name} is in no tier: add a line for it to TIERS in tests/tiers.py"
        )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    name = file_path.name
    if name.startswith("test_") and name.endswith(".py") and name not in TIERS:
        return UntieredFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    known = set(every_tier())
    for item in items:
        tier = TIERS.get(item.path.name)
        if tier is None:
            continue  # its file already failed the collection
        stray = {mark.name for mark in item.iter_markers() if mark.name in known} - {tier}
        if stray:
            raise pytest.UsageError(
                f"{item.nodeid} is marked {sorted(stray)}, but tests/tiers.py puts "
                f"{item.path.name} in {tier!r}: a test is in one tier, set in that table only"
            )
        item.add_marker(tier)
