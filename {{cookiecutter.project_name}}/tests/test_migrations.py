"""Migrations are the only way the schema is built; they must also go down and up again."""

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from {{ cookiecutter.module_name }}.db.base import NAMING_CONVENTION, Base
from tests.postgres import alembic_config, throwaway_database


def test_upgrade_downgrade_upgrade_round_trip(admin_url: URL) -> None:
    with throwaway_database(admin_url) as url:
        config = alembic_config(url)
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        command.upgrade(config, "head")


def test_models_match_the_migrations(database_url: str) -> None:
    """Fails when a model changed without a migration: run `alembic revision --autogenerate`."""
    command.check(alembic_config(database_url))


def test_there_is_a_single_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/unused"))
    assert len(script.get_heads()) == 1


def test_metadata_uses_the_naming_convention() -> None:
    assert Base.metadata.naming_convention == NAMING_CONVENTION
