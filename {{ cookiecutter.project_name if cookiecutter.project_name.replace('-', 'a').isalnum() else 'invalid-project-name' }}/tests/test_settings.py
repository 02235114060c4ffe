"""Settings: secrets stay secret, production refuses laptop settings, .env.example is complete."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from {{ cookiecutter.module_name }}.core.config import Settings
from tests.identity import PRODUCTION_IDENTITY
from tests.postgres import PROJECT_ROOT

SAFE_URL = "postgresql+asyncpg://svc:Xq7-long-random@db:5432/app"
# Documented in .env.example but read by compose or the tests, not by Settings.
NOT_APP_SETTINGS = {
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "API_PORT",
    "POSTGRES_PORT",
    "BIND_ADDRESS",
    "TEST_DATABASE_URL",
}


def test_a_sync_postgres_url_is_normalised_to_asyncpg() -> None:
    settings = Settings(database_url="postgresql://u:p@db:5432/x")
    assert settings.database_url.get_secret_value() == "postgresql+asyncpg://u:p@db:5432/x"


def test_the_password_never_shows_in_reprs() -> None:
    settings = Settings(database_url=SAFE_URL)
    assert "Xq7-long-random" not in repr(settings)
    assert "Xq7-long-random" not in str(settings.model_dump())


def test_origins_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings(database_url=SAFE_URL)
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"database_url": "postgresql+asyncpg://app:app@db/app"}, ["DATABASE_URL"]),
        ({"database_url": "postgresql+asyncpg://app:@db/app"}, ["DATABASE_URL"]),
        ({"debug": True}, ["DEBUG"]),
        ({"cors_origins": ["*"]}, ["CORS_ORIGINS"]),
        (
            {"database_url": "postgresql+asyncpg://a:change-me@db/a", "debug": True},
            ["DATABASE_URL", "DEBUG"],
        ),
    ],
    ids=["default-password", "empty-password", "debug", "wildcard-cors", "several"],
)
def test_production_refuses_unsafe_settings(overrides: dict[str, object], names: list[str]) -> None:
    values: dict[str, object] = {"database_url": SAFE_URL, "environment": "production"}
    values.update(overrides)
    with pytest.raises(ValidationError) as refused:
        Settings(**values)  # type: ignore[arg-type]
    message = str(refused.value)
    assert "refusing to start with ENVIRONMENT=production" in message
    for name in names:
        assert name in message


def test_production_accepts_safe_settings() -> None:
    settings = Settings(
        database_url=SAFE_URL,
        environment="production",
        cors_origins=["https://a.example"],
        **PRODUCTION_IDENTITY,
    )
    assert settings.environment == "production"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://svc@db:5432/app",  # trust, .pgpass, PGPASSWORD or a certificate
        "postgresql+asyncpg://svc@/app?host=/run/postgresql",  # peer, over the Unix socket
    ],
    ids=["no-password", "unix-socket"],
)
def test_production_accepts_a_url_without_a_password(url: str) -> None:
    settings = Settings(database_url=url, environment="production", **PRODUCTION_IDENTITY)
    assert settings.environment == "production"


def test_env_example_documents_every_setting() -> None:
    text = (PROJECT_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "add these settings to .env.example"
    otel = {name for name in documented if name.startswith("OTEL_")}  # the OpenTelemetry SDK's
    assert documented - fields - NOT_APP_SETTINGS - otel == set(), "these are not settings any more"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"DATABASE_URL": "postgresql+asyncpg://app:app@127.0.0.1:5432/app"},
            "settings: refusing to start with ENVIRONMENT=production: DATABASE_URL has an empty",
        ),
        ({"PORT": "not-a-port"}, "PORT: Input should be a valid integer"),
    ],
    ids=["default-password", "bad-port"],
)
def test_the_server_command_names_the_setting_to_fix_without_a_traceback(
    tmp_path: Path, overrides: dict[str, str], expected: str
) -> None:
    environment = {**os.environ, "ENVIRONMENT": "production", "DATABASE_URL": SAFE_URL}
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.module_name }}.serve"],
        cwd=tmp_path,  # no .env here
        env=environment | overrides,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
