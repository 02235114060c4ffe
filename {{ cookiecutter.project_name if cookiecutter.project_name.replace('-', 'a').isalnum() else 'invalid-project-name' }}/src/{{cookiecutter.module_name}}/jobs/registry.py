"""The job functions, by the name `enqueue` is given. Adding a job: write an async function that
takes a `JobRun`, and add it to `JOBS` (README, "Adding a job").

Every job must be idempotent: it runs at least once, not exactly once. A worker that dies after
the work but before it marks the job done (kill -9, a lost node, a database restart) leaves the
job to run again when its lease expires (record 0031).
"""

from collections.abc import Mapping
from types import MappingProxyType
{%- if cookiecutter.include_example == "yes" %}

from sqlalchemy import func, update
{%- endif %}
{%- if cookiecutter.include_example == "yes" %}

from {{ cookiecutter.module_name }}.jobs.run import JobFunction, JobRun
from {{ cookiecutter.module_name }}.models.item import Item
{%- else %}

from {{ cookiecutter.module_name }}.jobs.run import JobFunction
{%- endif %}
{%- if cookiecutter.include_example == "yes" %}


async def stamp_item(run: JobRun) -> None:
    """The example: stamp an item as processed. Idempotent by its WHERE clause: a second run
    finds processed_at set and changes nothing; an item deleted meanwhile is not an error."""
    async with run.database.session() as session:
        await session.execute(
            update(Item)
            .where(Item.id == run.payload["item_id"], Item.processed_at.is_(None))
            .values(processed_at=func.now())
        )
        await session.commit()


JOBS: Mapping[str, JobFunction] = MappingProxyType({"stamp_item": stamp_item})
{%- else %}

JOBS: Mapping[str, JobFunction] = MappingProxyType({})
{%- endif %}
