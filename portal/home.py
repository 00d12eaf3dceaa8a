"""What the learner's home shows (the ``me`` area). Training and inspections register providers here.

A provider is ``fn(learner) -> list[HomeItem]``; each item lands in one of the home's sections:
``assigned`` (to do, with its due date), ``done`` (finished, still current) and ``history``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

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


_providers: list[Callable[[User], list[HomeItem]]] = []


def register_home_provider(provider: Callable[[User], list[HomeItem]]) -> Callable[[User], list[HomeItem]]:
    """Decorator: ``provider(learner)`` adds items to the learner's home."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def home_items(learner: User) -> dict[str, list[HomeItem]]:
    """The learner's items by section; assigned ones soonest due first, the others newest first."""
    sections: dict[str, list[HomeItem]] = {s: [] for s in SECTIONS}
    for provider in _providers:
        for item in provider(learner):
            sections[item.section].append(item)
    far = datetime.max.replace(tzinfo=None)
    sections["assigned"].sort(key=lambda i: i.due_at.replace(tzinfo=None) if i.due_at else far)
    for key in ("done", "history"):
        sections[key].sort(key=lambda i: i.finished_at.replace(tzinfo=None) if i.finished_at else far, reverse=True)
    return sections
