"""Session-wide fixtures: one uv cache, and each combination baked once and shared by every tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bake import MATRIX, Baked, combination_params, project_env
from tests.tiers import pytest_collect_file, pytest_collection_modifyitems

__all__ = ["pytest_collect_file", "pytest_collection_modifyitems"]  # the tier table's hooks

RENDER_ONLY = {"FASTAPI_TEMPLATE_MODE": "render-only"}


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole run, on the baked projects' filesystem so uv can hardlink."""
    return tmp_path_factory.getbasetemp() / "uv-cache"


@pytest.fixture(scope="session")
def render(cookies_session, monkeypatch_session):
    """Bake without environment work (render + prune only), as `cruft update` re-renders do."""
    monkeypatch_session.setenv("FASTAPI_TEMPLATE_MODE", "render-only")

    def _render(**context: str) -> Path:
        result = cookies_session.bake(extra_context=context)
        assert result.exception is None, result.exception
        assert result.exit_code == 0
        return Path(result.project_path)

    return _render


@pytest.fixture(scope="session")
def monkeypatch_session():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="session", params=combination_params(MATRIX))
def baked(request: pytest.FixtureRequest, render, uv_cache: Path) -> Baked:
    """One rendered project per combination, locked and synced once, shared by every gate."""
    context = dict(request.param)
    path = render(**context)
    project = Baked(path, context, project_env(context["python_version"], uv_cache))
    for args in (("lock",), ("sync", "--locked")):
        result = project.uv(*args)
        assert result.returncode == 0, result.stderr
    return project
