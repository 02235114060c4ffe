"""Every ORM model, imported here so `Base.metadata` is complete for Alembic."""

from {{ cookiecutter.module_name }}.models.idempotency_key import IdempotencyKey
{%- if cookiecutter.include_example == "yes" %}
from {{ cookiecutter.module_name }}.models.item import Item
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
from {{ cookiecutter.module_name }}.models.job import Job
{%- endif %}
{%- set names = ["IdempotencyKey"] %}
{%- if cookiecutter.include_example == "yes" %}{% set names = names + ["Item"] %}{% endif %}
{%- if cookiecutter.background_jobs == "yes" %}{% set names = names + ["Job"] %}{% endif %}

__all__ = [{% for name in names %}"{{ name }}"{% if not loop.last %}, {% endif %}{% endfor %}]
