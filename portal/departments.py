"""An organization's departments as a tree, and whose learners a manager looks after.

Managers see and act on the learners of their departments (and of the sub-departments below them)
only; :func:`scope_learners` is the one place that narrows a learner query for them. Training,
inspections and their results ask here as the learners area does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Select, false, select

from portal.extensions import db
from portal.models import Department, ManagerDepartment, Role, User


@dataclass
class DepartmentTree:
    """The organization's departments, loaded once, with their paths (営業部/第一課)."""

    by_id: dict[int, Department]
    children: dict[int | None, list[Department]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def load(cls) -> DepartmentTree:
        departments = db.session.scalars(select(Department).order_by(Department.name, Department.id)).all()
        tree = cls({d.id: d for d in departments})
        for d in departments:
            tree.children[d.parent_id].append(d)
        return tree

    def path(self, department_id: int | None) -> str:
        names = []
        current = self.by_id.get(department_id) if department_id else None
        while current is not None:
            names.append(current.name)
            current = self.by_id.get(current.parent_id) if current.parent_id else None
        return "/".join(reversed(names))

    def ordered(self) -> list[Department]:
        """Depth first, parents before their children."""
        out: list[Department] = []

        def walk(parent_id):
            for d in self.children.get(parent_id, []):
                out.append(d)
                walk(d.id)

        walk(None)
        return out

    def with_descendants(self, ids: Iterable[int]) -> set[int]:
        found: set[int] = set()
        stack = [i for i in ids if i in self.by_id]
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.add(current)
            stack.extend(d.id for d in self.children.get(current, []))
        return found

    def by_path(self) -> dict[str, int]:
        return {self.path(d.id): d.id for d in self.by_id.values()}


def managed_department_ids(user: User, tree: DepartmentTree | None = None) -> set[int]:
    """The departments whose learners ``user`` (a manager) looks after, sub-departments included."""
    direct = db.session.scalars(
        select(ManagerDepartment.department_id).where(ManagerDepartment.user_id == user.id)
    ).all()
    if not direct:
        return set()
    return (tree or DepartmentTree.load()).with_descendants(direct)


def may_open_record(departments: set[int] | None, role: str | None, department_id: int | None) -> bool:
    """Whether a viewer may open the record of a user of ``role`` in ``department_id``, without a query:
    :func:`scope_learners`'s rule, for lists that already read those two columns. ``departments`` is the
    viewer's: None for an administrator (the whole organization), a manager's
    :func:`managed_department_ids`."""
    return role == Role.LEARNER and (departments is None or department_id in departments)


def visible_department_ids(user: User, tree: DepartmentTree) -> set[int]:
    if user.role == Role.ORG_ADMIN:
        return set(tree.by_id)
    if user.role == Role.MANAGER:
        return managed_department_ids(user, tree)
    return set()


def scope_learners(stmt: Select, user: User, tree: DepartmentTree | None = None) -> Select:
    """Narrow ``stmt`` (a select over :class:`User`) to the learners ``user`` may see and act on.

    An org admin: every learner of the organization (the tenant scope already limits it). A manager:
    the learners of their departments and their sub-departments; a manager without departments
    sees none. Anyone else: none.
    """
    stmt = stmt.where(User.role == Role.LEARNER)
    if user.role == Role.ORG_ADMIN:
        return stmt
    if user.role == Role.MANAGER:
        ids = managed_department_ids(user, tree)
        return stmt.where(User.department_id.in_(ids)) if ids else stmt.where(false())
    return stmt.where(false())
