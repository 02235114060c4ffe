"""Background jobs on the service's own PostgreSQL (record 0031).

    await enqueue(session, "stamp_item", {"item_id": item.id})  # in the request's session

The job is a row written by the request's own transaction: it exists if and only if that
transaction commits. `python -m {{ cookiecutter.module_name }}.worker` runs the jobs; a job
function is registered by name in jobs/registry.py.
"""

from {{ cookiecutter.module_name }}.jobs.queue import enqueue, retry_failed
from {{ cookiecutter.module_name }}.jobs.registry import JOBS
from {{ cookiecutter.module_name }}.jobs.run import JobRun

__all__ = ["JOBS", "JobRun", "enqueue", "retry_failed"]
