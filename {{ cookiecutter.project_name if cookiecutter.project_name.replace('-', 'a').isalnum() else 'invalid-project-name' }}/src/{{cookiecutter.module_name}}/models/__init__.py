"""Every ORM model, imported here so `Base.metadata` is complete for Alembic."""

from {{ cookiecutter.module_name }}.models.idempotency_key import IdempotencyKey
{%- if cookiecutter.include_example == "yes" %}
from {{ cookiecutter.module_name }}.models.item import Item

__all__ = ["IdempotencyKey", "Item"]
{%- else %}

__all__ = ["IdempotencyKey"]
{%- endif %}
