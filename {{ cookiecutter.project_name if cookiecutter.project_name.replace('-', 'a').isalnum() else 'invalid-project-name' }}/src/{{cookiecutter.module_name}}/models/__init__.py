"""Every ORM model, imported here so `Base.metadata` is complete for Alembic."""
{%- if cookiecutter.include_example == "yes" %}

from {{ cookiecutter.module_name }}.models.item import Item

__all__ = ["Item"]
{%- endif %}
