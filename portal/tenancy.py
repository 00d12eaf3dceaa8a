"""Tenant isolation as a mechanism.

Every ORM statement that touches a :class:`TenantScoped` model is filtered to the organization in
the current *scope*. The scope is set once per request from the signed-in user (see
``portal.gates.bind_request_scope``) and explicitly everywhere else:

* ``with tenant_scope(org_id):`` - one organization (an org admin, a learner, a job for one tenant);
* ``with unscoped("the operator sees every organization"):`` - all organizations, for staff views and the
  worker; the reason is required, so that every call site says why.

A model with an ``organization_id`` that must stay outside the guard (a staff-only record that outlives
its organization) says why in ``__tenant_exempt__``; tests fail for any other such model.

A statement on a tenant-owned model with no scope at all raises :class:`TenantScopeError` instead of
silently returning every organization's rows, so a forgotten filter fails loudly in tests. So does, outside
``unscoped``, a SELECT that reads a tenant table only through its Core columns (``Model.__table__.c``): it
maps no model, so no criteria would narrow it. (A SELECT with a model anywhere that also joins another tenant
table's Core columns is narrowed for the model only: select model attributes.)

Writes are checked as well: the ORM's flush (:func:`_refuse_cross_tenant_writes`), an INSERT executed
through the session, ORM or Core on the table (each row must carry the scope's organization), a Core UPDATE
or DELETE of a tenant's table (narrowed to the scope), and ``portal.bulk.copy_rows``' COPY. What runs below
the session, on a raw connection, is not seen: only the bulk module does, and it checks its rows itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from functools import lru_cache

from sqlalchemy import ForeignKey, event, or_
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria
from sqlalchemy.sql.selectable import AliasedReturnsRows, CompoundSelect, Join, Select, TableClause


class TenantScopeError(RuntimeError):
    """A tenant-owned table was queried or written outside any tenant scope."""


class _AllTenants:
    def __repr__(self) -> str:
        return "<all tenants>"


ALL_TENANTS = _AllTenants()
_scope: ContextVar[int | _AllTenants | None] = ContextVar("tenant_scope", default=None)


class TenantScoped:
    """Mixin for models owned by an organization.

    The column is nullable for the few tables that also hold staff rows (users, audit events,
    email); a table whose rows always belong to an organization redeclares it ``nullable=False``.
    """

    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )


class SharedOrTenantScoped:
    """Mixin for content that is either global (``organization_id`` NULL, written by the operator) or
    owned by one organization (written by its administrators).

    Inside an organization's scope a read sees ``organization_id IS NULL OR organization_id = scope``:
    the global rows are shared with every organization, another organization's rows stay invisible.
    Writes follow the tenant rule: inside an organization's scope only that organization's rows may be
    created or changed, so an organization can read but never edit global content.
    """

    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )


def current_scope() -> int | _AllTenants | None:
    return _scope.get()


def set_scope(value: int | _AllTenants | None):
    """Set the scope and return the token for :func:`reset_scope` (request hooks use this pair)."""
    return _scope.set(value)


def reset_scope(token) -> None:
    _scope.reset(token)


@contextmanager
def tenant_scope(organization_id: int) -> Iterator[None]:
    token = _scope.set(organization_id)
    try:
        yield
    finally:
        _scope.reset(token)


def unscoped(reason: str) -> AbstractContextManager[None]:
    """Read and write across organizations (staff screens, the worker, CLI), as a ``with`` block or a
    decorator. ``reason`` says why, for the reader: ``unscoped("a worker job covers every organization")``.

    :raises TypeError: no reason, or an empty one.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise TypeError('unscoped() needs the reason: unscoped("why this code reads across organizations")')
    return _all_tenants()


@contextmanager
def _all_tenants() -> Iterator[None]:
    token = _scope.set(ALL_TENANTS)
    try:
        yield
    finally:
        _scope.reset(token)


def _touches_tenant_model(state: ORMExecuteState) -> bool:
    return any(issubclass(m.class_, TenantScoped | SharedOrTenantScoped) for m in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if state.is_insert or ((state.is_update or state.is_delete) and not state.all_mappers):
        _guard_core_write(state)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        # Lazy loads inherit the criteria of the statement that loaded their parent.
        return
    scope = _scope.get()
    if scope is ALL_TENANTS:
        return
    if state.is_select and not state.is_orm_statement and _core_select_of_tenant_table(state.statement):
        # The loader criteria below filter what the ORM maps; a SELECT of a table's own columns
        # (``Model.__table__.c``) maps nothing, so it would read every organization's rows. (``is_orm_statement``
        # is a flag; ``all_mappers`` would describe every column, 20-30 µs a statement.)
        raise TenantScopeError(
            "a SELECT of a tenant table's Core columns is not narrowed to the tenant scope; "
            "select the model's attributes (Model.column) or run it in unscoped(reason)"
        )
    if scope is None:
        if _touches_tenant_model(state):
            raise TenantScopeError(
                "tenant-owned rows queried without a tenant scope; "
                "wrap the call in tenant_scope(org_id) or unscoped(reason)"
            )
        return
    state.statement = state.statement.options(*_criteria(scope))


def _core_select_of_tenant_table(statement) -> bool:
    """Whether a SELECT of Core columns reads a tenant table: in its FROM, a join, an alias, a subquery or a CTE
    there, or in any SELECT of a UNION. (A statement with a model anywhere, such as ``paginate``'s count of
    ``select(Model)``, is an ORM statement, narrowed by the criteria.)"""
    if isinstance(statement, CompoundSelect):
        return any(_core_select_of_tenant_table(each) for each in statement.selects)
    return isinstance(statement, Select) and any(_raw_tenant_from(f) for f in statement.get_final_froms())


def _raw_tenant_from(from_) -> bool:
    if isinstance(from_, Join):
        return _raw_tenant_from(from_.left) or _raw_tenant_from(from_.right)
    if isinstance(from_, AliasedReturnsRows):
        element = from_.element
        return _raw_tenant_from(element) if isinstance(element, TableClause) else _core_select_of_tenant_table(element)
    if isinstance(from_, TableClause):
        return "parententity" not in from_._annotations and tenant_kind(from_) is not None
    return False


@lru_cache(maxsize=4096)
def _criteria(scope: int) -> tuple:
    """The two criteria options of one organization, built once: constructing them cost a tenth of a
    millisecond per statement (#17). They hold no state of a statement or a session."""
    return (
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.organization_id == scope,
            include_aliases=True,
        ),
        with_loader_criteria(
            SharedOrTenantScoped,
            lambda cls: or_(cls.organization_id.is_(None), cls.organization_id == scope),
            include_aliases=True,
        ),
    )


_MISSING = object()


def tenant_kind(table) -> type | None:
    """:class:`TenantScoped` or :class:`SharedOrTenantScoped` for a table of such a model, else None."""
    try:
        return _table_kinds[table]
    except KeyError:
        pass
    for kind in (TenantScoped, SharedOrTenantScoped):
        for model in _subclasses(kind):
            if getattr(model, "__table__", None) is not None:
                _table_kinds[model.__table__] = kind
    return _table_kinds.setdefault(table, None)


_table_kinds: dict = {}


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _guard_core_write(state: ORMExecuteState) -> None:
    """An INSERT, or a Core UPDATE or DELETE, of a tenant's table through the session: the loader criteria
    that filter the ORM's statements do not reach them, so they are checked here.

    * no scope: refused, as for a query;
    * an organization's scope: every inserted row must carry that organization (an omitted
      ``organization_id`` is refused, since nothing fills it as the flush does), and a Core UPDATE or
      DELETE gets ``WHERE organization_id = scope``;
    * all tenants: allowed.
    """
    statement = state.statement
    table = getattr(statement, "table", None)
    kind = tenant_kind(table) if table is not None else None
    if kind is None:
        return
    scope = _scope.get()
    if scope is ALL_TENANTS:
        return
    if scope is None:
        raise TenantScopeError(
            f"{table.name} written without a tenant scope; wrap the call in tenant_scope(org_id) or unscoped(reason)"
        )
    if not state.is_insert:
        state.statement = statement.where(table.c.organization_id == scope)
        return
    for organization_id in _inserted_organizations(state, table):
        if organization_id != scope:
            shown = "none" if organization_id is _MISSING else organization_id
            raise TenantScopeError(
                f"refusing to insert into {table.name} a row of organization {shown} "
                f"inside the scope of organization {scope}"
            )


def _inserted_organizations(state: ORMExecuteState, table) -> Iterator[object]:
    """The ``organization_id`` of each row an INSERT writes (:data:`_MISSING` where it gives none, an SQL
    expression where it computes one)."""
    statement = state.statement
    if getattr(statement, "select", None) is not None:
        yield _MISSING  # INSERT ... SELECT: its rows are not known before it runs
        return
    fixed = _MISSING
    for key, value in (statement._values or {}).items():
        if getattr(key, "key", key) == "organization_id":
            fixed = getattr(value, "value", value)
    rows: list = []
    for batch in statement._multi_values:
        rows.extend(batch)
    parameters = state.parameters
    if isinstance(parameters, dict):
        rows.append(parameters)
    elif parameters:
        rows.extend(parameters)
    if not rows:
        yield fixed
        return
    for row in rows:
        if isinstance(row, dict):
            value = row.get("organization_id", _MISSING)
            if value is _MISSING:
                value = next((v for k, v in row.items() if getattr(k, "key", None) == "organization_id"), fixed)
        else:  # a positional row of a multi-row VALUES: the table's columns in order
            position = list(table.c.keys()).index("organization_id")
            value = row[position] if position < len(row) else fixed
        yield getattr(value, "value", value)


@event.listens_for(Session, "before_flush")
def _refuse_cross_tenant_writes(session: Session, flush_context, instances) -> None:
    scope = _scope.get()
    if scope is None or scope is ALL_TENANTS:
        return
    owned = (TenantScoped, SharedOrTenantScoped)
    for obj in session.new:
        if isinstance(obj, owned) and obj.organization_id is None:
            obj.organization_id = scope
    shared_deleted = [obj for obj in session.deleted if isinstance(obj, SharedOrTenantScoped)]
    for obj in list(session.new) + list(session.dirty) + shared_deleted:
        if isinstance(obj, owned) and obj.organization_id != scope:
            raise TenantScopeError(
                f"refusing to write {type(obj).__name__} of organization {obj.organization_id} "
                f"inside the scope of organization {scope}"
            )


__all__ = [
    "ALL_TENANTS",
    "SharedOrTenantScoped",
    "TenantScopeError",
    "TenantScoped",
    "current_scope",
    "reset_scope",
    "set_scope",
    "tenant_kind",
    "tenant_scope",
    "unscoped",
]
