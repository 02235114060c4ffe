{%- from "migrations.jinja" import down_revision with context -%}
"""Add items.processed_at, stamped by the example's background job (jobs/registry.py).

A template revision (record 0027), included with include_example=yes and background_jobs=yes.
Nullable, no default: adding it rewrites no row and takes its lock only for a moment.

Revision ID: t0005
Revises: {{ down_revision("t0005") }}
Create Date: 2026-12-02 00:00:01+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0005"
down_revision: str | None = "{{ down_revision("t0005") }}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("items", "processed_at")
