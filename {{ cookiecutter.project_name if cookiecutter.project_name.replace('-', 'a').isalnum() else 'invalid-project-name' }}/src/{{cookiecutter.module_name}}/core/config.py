"""Settings, read from the environment and `.env` (environment variables win)."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ASYNC_SCHEME = "postgresql+asyncpg://"
SYNC_SCHEMES = ("postgresql://", "postgres://")
# Passwords that ship in examples and tutorials: never acceptable in production.
WELL_KNOWN_PASSWORDS = frozenset({"", "app", "change-me", "changeme", "password", "postgres"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    app_name: str = "{{ cookiecutter.project_name }}"
    environment: Literal["development", "test", "production"] = "development"
    debug: bool = False
    # /docs, /redoc and /openapi.json; unset: on, except in production.
    api_docs: bool | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Empty: JSON lines in production, readable lines elsewhere.
    log_format: Literal["json", "console", ""] = ""
    # The server (serve.py). One process per container: scale with replicas, which the
    # orchestrator can place, restart and health-check one by one (record 0014).
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    shutdown_grace_seconds: int = Field(default=20, ge=0)
    forwarded_allow_ips: str = "127.0.0.1"
    access_log: bool = True

    # Larger request bodies answer 413 before they are read whole (1 MiB by default).
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # How long a POST's Idempotency-Key and its stored answer are kept (record 0026): a retry
    # within it gets the first answer. 24 h by default.
    idempotency_key_ttl_seconds: int = Field(default=24 * 3600, ge=1)

    # Comma-separated origins allowed to call the API from a browser; empty = no CORS headers.
    cors_origins: Annotated[list[str], NoDecode] = []

    # Required: there is deliberately no default, so a password never sits in code.
    database_url: SecretStr
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    db_pool_recycle_seconds: int = Field(default=1800, ge=-1)
    db_pool_pre_ping: bool = True
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)

    # Migrations: where Alembic's configuration is (readiness compares revisions), how long a
    # migrator waits for another one's advisory lock, and the limits its statements run under.
    alembic_config: Path = Path("alembic.ini")
    migration_lock_wait_seconds: float = Field(default=300.0, gt=0)
    migration_lock_timeout_seconds: float = Field(default=10.0, gt=0)
    migration_statement_timeout_seconds: float = Field(default=600.0, gt=0)

    @property
    def api_docs_enabled(self) -> bool:
        return self.environment != "production" if self.api_docs is None else self.api_docs

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.log_format:
            return self.log_format
        return "json" if self.environment == "production" else "console"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def refuse_unsafe_production_settings(self) -> Self:
        """In production, refuse to start on settings that are only fit for a laptop."""
        if self.environment != "production":
            return self
        problems = []
        password = urlsplit(self.database_url.get_secret_value()).password or ""
        if password in WELL_KNOWN_PASSWORDS:
            problems.append("DATABASE_URL has an empty or well-known password: set a real one")
        if self.debug:
            problems.append("DEBUG is on: set DEBUG=false")
        if "*" in self.cors_origins:
            problems.append("CORS_ORIGINS allows every origin ('*'): list the origins instead")
        if problems:
            msg = "refusing to start with ENVIRONMENT=production: " + "; ".join(problems)
            raise ValueError(msg)
        return self

    @field_validator("database_url")
    @classmethod
    def use_asyncpg_driver(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        for scheme in SYNC_SCHEMES:
            if url.startswith(scheme):
                return SecretStr(ASYNC_SCHEME + url.removeprefix(scheme))
        if not url.startswith(ASYNC_SCHEME):
            msg = f"DATABASE_URL must start with {ASYNC_SCHEME}"
            raise ValueError(msg)
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
