"""Periodic work that the worker runs (deliveries, reminders, SLA warnings, ...).

An area registers a job with ``@periodic("name", every=timedelta(minutes=1))``; the worker calls each
due job inside an app context and across all tenants, and commits after it. A job must be safe to
run twice (use idempotency keys when it queues email), since a crash may repeat it.

``portal.worker`` keeps each job's last run in the ``job_runs`` table, with a lease so that two workers
never run the same job at once and the schedule survives restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    func: Callable[[datetime], None]


REGISTRY: dict[str, PeriodicJob] = {}


def periodic(name: str, every: timedelta) -> Callable:
    """Register ``func(now)`` to run every ``every``. Importing the module registers it."""

    def decorator(func: Callable[[datetime], None]):
        REGISTRY[name] = PeriodicJob(name=name, every=every, func=func)
        return func

    return decorator
