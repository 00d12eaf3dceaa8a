"""What the learner's home shows (the ``me`` area). Training and inspections register providers here.

A provider is ``fn(learner, history) -> list[HomeItem]``; each item lands in one of the home's sections:
``assigned`` (to do, with its due date), ``done`` (finished, still current) and ``history``. A provider
returns every open item and only the newest ``history`` items of its history (:func:`history_rank` numbers
them in its statement), so that the home reads the same few rows after years of monthly inspections as in
the first month (#17).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Label, case, func

from portal.models import User

SECTIONS = ("assigned", "done", "history")


@dataclass(frozen=True)
class HomeItem:
    section: str  # one of SECTIONS
    kind: str  # "training", "inspection", ...
    title: str
    url: str
    due_at: datetime | None = None  # shown as 期限 while the item is open, and for one closed unfinished
    finished_at: datetime | None = None  # shown as 完了 when there is no due date; orders done and history
    status: str = ""


Provider = Callable[[User, int], list[HomeItem]]

_providers: list[Provider] = []


def register_home_provider(provider: Provider) -> Provider:
    """Decorator: ``provider(learner, history)`` adds items to the learner's home."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def history_rank(is_history: ColumnElement[bool], finished_at: ColumnElement) -> Label:
    """A column for a provider's statement: its history rows numbered 1, 2, … newest first (by ``finished_at``,
    as :func:`home_items` orders them, no date first), 0 for the rest. Keeping the rows where it is at most
    ``history`` keeps every open item and the newest of the history."""
    newest = func.row_number().over(partition_by=is_history, order_by=finished_at.desc().nulls_first())
    return case((is_history, newest), else_=0).label("history_rank")


def home_items(learner: User, *, history: int) -> dict[str, list[HomeItem]]:
    """The learner's items by section; assigned ones soonest due first, the others newest first, and of the
    history only the newest ``history``."""
    sections: dict[str, list[HomeItem]] = {s: [] for s in SECTIONS}
    for provider in _providers:
        for item in provider(learner, history):
            sections[item.section].append(item)
    far = datetime.max.replace(tzinfo=None)
    sections["assigned"].sort(key=lambda i: i.due_at.replace(tzinfo=None) if i.due_at else far)
    for key in ("done", "history"):
        sections[key].sort(key=lambda i: i.finished_at.replace(tzinfo=None) if i.finished_at else far, reverse=True)
    del sections["history"][history:]
    return sections
