"""Settings, read from the environment and `.env` (environment variables win)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ASYNC_SCHEME = "postgresql+asyncpg://"
SYNC_SCHEMES = ("postgresql://", "postgres://")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    app_name: str = "{{ cookiecutter.project_name }}"
    environment: Literal["development", "test", "production"] = "development"

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
