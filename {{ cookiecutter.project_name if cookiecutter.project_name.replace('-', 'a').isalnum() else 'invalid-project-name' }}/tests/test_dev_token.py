"""The development token: the command writes its key into `.env` and prints a token that the
service accepts with ENVIRONMENT=development only; production refuses to start with the key."""

from pathlib import Path

import pytest
from fastapi import APIRouter, status
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError

from {{ cookiecutter.module_name }}.auth import require_scopes
from {{ cookiecutter.module_name }}.auth.dev_token import main
from {{ cookiecutter.module_name }}.core.config import Settings
from {{ cookiecutter.module_name }}.main import create_app


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    for name in ("ENVIRONMENT", "OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_DEV_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"DATABASE_URL={database_url}\nENVIRONMENT=development")
    return tmp_path


async def status_with(settings: Settings, token: str) -> int:
    app = create_app(settings)
    router = APIRouter()

    @router.get("/guarded", dependencies=[require_scopes("things:read")])
    async def guarded() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(router)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http,
    ):
        response = await http.get("/guarded", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


async def test_the_dev_token_works_in_development_only(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--scope", "things:read"]) == 0
    token = capsys.readouterr().out.strip()
    assert "OIDC_DEV_KEY=" in (project / ".env").read_text()
    development = Settings()
    assert await status_with(development, token) == status.HTTP_200_OK
    elsewhere = development.model_copy(update={"environment": "test"})
    assert await status_with(elsewhere, token) == status.HTTP_401_UNAUTHORIZED

    assert main(["--scope", "other"]) == 0  # the second run keeps the key
    assert (project / ".env").read_text().count("OIDC_DEV_KEY=") == 1
    assert await status_with(Settings(), capsys.readouterr().out.strip()) == 403


def test_the_command_refuses_outside_development(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "test")
    assert main(["--scope", "things:read"]) == 2
    assert "OIDC_DEV_KEY" not in (project / ".env").read_text()


@pytest.mark.usefixtures("project")
def test_production_refuses_the_dev_key_and_an_incomplete_identity() -> None:
    assert main([]) == 0
    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", oidc_issuer="http://idp.example")
    message = str(refused.value)
    assert "OIDC_ISSUER must be set to the identity provider's https:// URL" in message
    assert "OIDC_AUDIENCE must name this service's audience" in message
    assert "OIDC_DEV_KEY is set" in message


@pytest.mark.usefixtures("project")
def test_an_empty_dev_key_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """What compose passes when `.env` holds no key: production starts, nothing is trusted."""
    monkeypatch.setenv("OIDC_DEV_KEY", "")
    production = Settings(
        environment="production",
        oidc_issuer="https://idp.example",
        oidc_audience="billing",
        database_url="postgresql+asyncpg://app@db.internal/app",
    )
    assert production.oidc_dev_key is None
