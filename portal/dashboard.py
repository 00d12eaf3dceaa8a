"""The start page of an organization's administrators and managers (``org.home``): areas register its panels.

A provider is ``fn(viewer) -> Panel | None`` (None: nothing for this viewer, say the seats for a manager).
Each area registers its own providers (``portal/blueprints/<area>/dashboard.py``, imported with the area's
blueprint), so the org area shows training, inspections and tickets without importing another area.

What a provider promises: a fixed number of SQL statements whatever the organization's size (figures are
aggregated in SQL, lists are limited), the viewer's scope respected (a manager's figures cover the learners
and departments they look after, :func:`portal.departments.scope_learners`), and plain rows for its
template, so that no statement runs while the page renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from portal.clock import utcnow
from portal.departments import DepartmentTree, managed_department_ids, scope_learners
from portal.models import Role, User

# How many rows a panel lists before it links to the whole list.
LISTED = 5


@dataclass(frozen=True)
class Viewer:
    """Who reads the dashboard, and what they may see."""

    user: User
    now: datetime
    # None: the whole organization (an administrator); a manager: the departments they look after, with
    # their sub-departments (possibly none).
    departments: set[int] | None = None
    # None: every learner; a manager: a select of the ids of the learners they look after.
    learners: Select | None = None

    @property
    def is_admin(self) -> bool:
        return self.user.role == Role.ORG_ADMIN


def viewer_of(user: User, now: datetime | None = None) -> Viewer:
    """The viewer for an administrator (everything) or a manager (their departments only)."""
    now = now or utcnow()
    if user.role == Role.ORG_ADMIN:
        return Viewer(user, now)
    tree = DepartmentTree.load()
    return Viewer(user, now, departments=managed_department_ids(user, tree),
                  learners=scope_learners(select(User.id), user, tree))


@dataclass(frozen=True)
class Panel:
    """One panel of the dashboard: its template (the area's own) renders ``data``."""

    key: str  # the section's id: ``panel-<key>``
    title: str
    template: str
    data: dict[str, Any] = field(default_factory=dict)
    # Nothing of the organization's own to report (no open delivery, no round, no learner...): the page adds
    # its getting-started steps when every panel is empty.
    empty: bool = False


Provider = Callable[[Viewer], Panel | None]
_providers: list[tuple[int, Provider]] = []


def register_panel(order: int) -> Callable[[Provider], Provider]:
    """Decorator: ``provider(viewer)`` adds a panel; panels are shown by ``order``, smallest first."""

    def register(provider: Provider) -> Provider:
        if all(existing is not provider for _order, existing in _providers):
            _providers.append((order, provider))
            _providers.sort(key=lambda pair: pair[0])
        return provider

    return register


def panels(viewer: Viewer) -> list[Panel]:
    """Every registered area's panel for ``viewer``, in order."""
    out = []
    for _order, provider in _providers:
        panel = provider(viewer)
        if panel is not None:
            out.append(panel)
    return out
