"""Join the migration heads into one revision, numbered like the project's own:

    uv run python alembic/merge_heads.py

A template update that brings a template revision (t0003, ...) into a project with revisions of
its own leaves two heads, and `alembic upgrade head` refuses to choose. This writes the merge
revision that joins them (`alembic merge heads`, with the next number of the project's sequence
rather than a random id). With a single head it writes nothing. Record 0027.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from {{ cookiecutter.module_name }}.db.migrations import next_revision_id

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
MESSAGE = "merge template revisions"


def merge_heads(config: Config) -> str | None:
    """The id of the merge revision written, or None when there is one head."""
    scripts = ScriptDirectory.from_config(config)
    if len(scripts.get_heads()) < 2:
        return None
    revision = next_revision_id(script.revision for script in scripts.walk_revisions())
    command.merge(config, "heads", message=MESSAGE, rev_id=revision)
    return revision


if __name__ == "__main__":
    merged = merge_heads(Config(str(ALEMBIC_INI)))
    print(f"merged the heads into {merged}" if merged else "one head: nothing to merge")
