"""Settings, read from the environment and `.env` (environment variables win)."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ASYNC_SCHEME = "postgresql+asyncpg://"
SYNC_SCHEMES = ("postgresql://", "postgres://")
# Passwords that ship in examples and tutorials: never acceptable in production. A URL with no
# password at all is fine: trust, peer, `.pgpass`, client certificates and IAM tokens need none.
WELL_KNOWN_PASSWORDS = frozenset({"", "app", "change-me", "changeme", "password", "postgres"})
{%- if cookiecutter.auth == "oidc" %}
# Asymmetric signatures only: never `none`, never HS* (a shared secret that a public key could
# be passed off as, record 0028).
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
{%- endif %}


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
    # Limits the server itself enforces (server/protocol.py, record 0025). A request head (the
    # request line and headers) over MAX_REQUEST_HEAD_BYTES answers 431; a client that has not
    # sent a whole head within REQUEST_HEAD_TIMEOUT_SECONDS is disconnected.
    max_request_head_bytes: int = Field(default=64 * 1024, ge=1024)
    request_head_timeout_seconds: float = Field(default=10.0, gt=0)
    # An idle kept-alive connection is closed after this: keep it above the idle timeout of the
    # load balancer in front (60 s on most), so the balancer, not the server, closes first.
    keep_alive_seconds: int = Field(default=75, ge=1)
    # Requests in progress per process beyond which the API answers 503 with Retry-After (the
    # probes are exempt); 0 turns the limit off.
    max_concurrent_requests: int = Field(default=100, ge=0)

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

    # Bounded database work (record 0023); 0 turns a bound off. The server's three timeouts go
    # out as start-up parameters when a connection is made: no round trip per statement.
    db_statement_timeout_seconds: float = Field(default=5.0, ge=0)
    db_lock_timeout_seconds: float = Field(default=2.0, ge=0)
    db_idle_in_transaction_timeout_seconds: float = Field(default=15.0, ge=0)
    # False behind PgBouncer in transaction mode, which refuses start-up parameters: set the
    # timeouts with ALTER ROLE ... IN DATABASE ... SET instead (README, "Database limits").
    db_startup_parameters: bool = True
    # The driver's bound on each statement, above the server's so that the server cancels
    # first: it ends a statement on a server that does not answer at all.
    db_command_timeout_seconds: float = Field(default=6.0, ge=0)
    # One deadline per request for all of its database work: waiting for a connection,
    # connecting, and every statement together.
    db_request_deadline_seconds: float = Field(default=10.0, ge=0)

    # Migrations: where Alembic's configuration is (readiness compares revisions), how long a
    # migrator waits for another one's advisory lock, and the limits its statements run under.
    alembic_config: Path = Path("alembic.ini")
    migration_lock_wait_seconds: float = Field(default=300.0, gt=0)
    migration_lock_timeout_seconds: float = Field(default=10.0, gt=0)
    migration_statement_timeout_seconds: float = Field(default=600.0, gt=0)
{%- if cookiecutter.auth == "oidc" %}

    # Identity (record 0028): OpenID Connect bearer tokens. The issuer's discovery document
    # (<issuer>/.well-known/openid-configuration) must name exactly this issuer.
    oidc_issuer: str = ""
    # Comma-separated; empty outside production: APP_NAME.
    oidc_audience: Annotated[list[str], NoDecode] = []
    # Instead of the discovery document's jwks_uri.
    oidc_jwks_url: str = ""
    oidc_algorithms: Annotated[list[str], NoDecode] = ["RS256", "ES256", "PS256"]
    oidc_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    # A claim whose values count as scopes, as a dotted path (Keycloak: realm_access.roles;
    # Entra client-credentials tokens: roles).
    oidc_roles_claim: str = ""
    # Check the audience against `client_id` (providers whose access tokens have no aud).
    oidc_client_id_as_audience: bool = False
    oidc_jwks_refresh_seconds: float = Field(default=300.0, gt=0)
    # An unknown kid refetches the keys at most once per cooldown (record 0029).
    oidc_jwks_cooldown_seconds: float = Field(default=30.0, ge=0)
    oidc_http_timeout_seconds: float = Field(default=5.0, gt=0)
    # Development tokens' signing key (auth/dev_token.py writes it into .env).
    oidc_dev_key: SecretStr | None = None
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}

    # Background jobs (jobs/, record 0031). The worker (worker.py) answers its probes on
    # HOST:WORKER_PORT and runs up to WORKER_CONCURRENCY jobs at once.
    worker_port: int = Field(default=8001, ge=1, le=65535)
    worker_concurrency: int = Field(default=4, ge=1)
    # A running job's lease, extended every third of it: a job whose worker died runs again
    # within JOB_LEASE_SECONDS + JOB_POLL_SECONDS.
    job_lease_seconds: float = Field(default=30.0, gt=0)
    # NOTIFY wakes the worker at once; this is how often it looks without one (delayed jobs,
    # expired leases, a lost NOTIFY while the database restarted).
    job_poll_seconds: float = Field(default=5.0, gt=0)
    # A failed attempt is retried after FIRST * 2**(attempt - 1) seconds, at most MAX.
    job_retry_first_delay_seconds: float = Field(default=1.0, gt=0)
    job_retry_max_delay_seconds: float = Field(default=3600.0, gt=0)
    # On SIGTERM: how long running jobs may take to finish before they are cancelled and queued
    # again. Keep it below the orchestrator's own (terminationGracePeriodSeconds).
    worker_shutdown_grace_seconds: float = Field(default=20.0, ge=0)
{%- endif %}

    @property
    def api_docs_enabled(self) -> bool:
        return self.environment != "production" if self.api_docs is None else self.api_docs

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        if self.log_format:
            return self.log_format
        return "json" if self.environment == "production" else "console"

{%- if cookiecutter.auth == "oidc" %}

    @property
    def audiences(self) -> list[str]:
        return self.oidc_audience or [self.app_name]

    @field_validator("oidc_audience", "oidc_algorithms", mode="before")
    @classmethod
    def split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("oidc_dev_key", mode="before")
    @classmethod
    def unset_when_empty(cls, value: object) -> object:
        """Compose passes `OIDC_DEV_KEY=` when .env has no key: that is no key."""
        return None if value == "" else value

    @field_validator("oidc_algorithms")
    @classmethod
    def asymmetric_algorithms_only(cls, value: list[str]) -> list[str]:
        refused = [name for name in value if name not in SIGNING_ALGORITHMS]
        if refused or not value:
            msg = (
                f"OIDC_ALGORITHMS may only list {', '.join(sorted(SIGNING_ALGORITHMS))} "
                f"(never none or HS*); got {', '.join(refused) or 'nothing'}"
            )
            raise ValueError(msg)
        return value
{%- endif %}

    @field_validator("cors_origins", mode="before")
    @classmethod
    def split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def server_cancels_before_the_driver(self) -> Self:
        command, statement = self.db_command_timeout_seconds, self.db_statement_timeout_seconds
        if command and statement and command <= statement:
            msg = (
                f"DB_COMMAND_TIMEOUT_SECONDS ({command:g}) must be above "
                f"DB_STATEMENT_TIMEOUT_SECONDS ({statement:g}), so that the server cancels a "
                "slow statement and the driver only ends one on a server that does not answer"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def refuse_unsafe_production_settings(self) -> Self:
        """In production, refuse to start on settings that are only fit for a laptop."""
        if self.environment != "production":
            return self
        problems = []
        password = urlsplit(self.database_url.get_secret_value()).password
        if password is not None and password in WELL_KNOWN_PASSWORDS:
            problems.append(
                "DATABASE_URL has an empty or well-known password: set a real one, or none"
            )
        if self.debug:
            problems.append("DEBUG is on: set DEBUG=false")
        if "*" in self.cors_origins:
            problems.append("CORS_ORIGINS allows every origin ('*'): list the origins instead")
{%- if cookiecutter.auth == "oidc" %}
        if not self.oidc_issuer.startswith("https://"):
            problems.append("OIDC_ISSUER must be set to the identity provider's https:// URL")
        if not self.oidc_audience:
            problems.append("OIDC_AUDIENCE must name this service's audience")
        if self.oidc_jwks_url and not self.oidc_jwks_url.startswith("https://"):
            problems.append("OIDC_JWKS_URL must be an https:// URL")
        if self.oidc_dev_key is not None:
            problems.append("OIDC_DEV_KEY is set: development tokens must not work here")
{%- endif %}
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
