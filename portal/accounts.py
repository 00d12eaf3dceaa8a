"""Who is already registered: email addresses (unique service-wide), 受講者ID (unique per organization)
and organization names.

Every area that creates or renames a user or an organization asks here, so that the forms, the
services, the CSV import and the sign-in agree on what counts as the same address, ID or name.
"""

from __future__ import annotations

import re
import unicodedata

from flask import url_for
from flask_login import current_user
from sqlalchemy import ColumnElement, func, select

from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import Organization, Role, User
from portal.passwords import hash_password
from portal.tenancy import unscoped

# Addresses are unique across the service, so an address that belongs to anyone (in this organization, in
# another one, or on the operator's staff) is refused. The customer's screens (a learner, a member, a
# successor, a CSV import) refuse it with this one message, which says neither where the address is used
# nor what kind of account holds it: other customers and staff are not to be found out by trying
# addresses. The operator's own screens may be specific.
ADDRESS_UNAVAILABLE = _l("このメールアドレスは登録できません。別のメールアドレスを入力してください。")


def normalize_email(value: str | None) -> str:
    """The stored form of an address: surrounding spaces removed, lower case ("" for none)."""
    return (value or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    """Any organization's user: sign-in happens before a tenant is known."""
    email = normalize_email(email)
    if not email:
        return None
    with unscoped("sign-in comes before a tenant is known"):
        return db.session.scalar(select(User).where(User.email == email))


def email_taken(email: str, exclude_id: int | None = None) -> bool:
    """Another user anywhere in the service already has ``email`` (addresses are unique service-wide)."""
    stmt = select(User.id).where(User.email == normalize_email(email))
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    with unscoped("addresses are unique across the whole service"):
        return db.session.scalar(stmt) is not None


def normalize_login_id(value: str | None) -> str:
    """A 受講者ID as typed or read from a file: width-folded (NFKC: ００１２３ is 00123), spaces around removed.

    The case is kept: the ID is stored and shown as the administrator typed it.
    """
    return unicodedata.normalize("NFKC", value or "").strip()


def login_id_key(login_id: str) -> str:
    """What two 受講者ID are compared by: learner01 and LEARNER01 are the same person.

    IDs are ASCII (the learner fields' rule), where Python's lower() and the database's lower() agree.
    """
    return login_id.lower()


def login_id_is(login_id: str) -> ColumnElement[bool]:
    """The users whose 受講者ID is ``login_id`` in any case; served by the unique index on lower(login_id)."""
    return func.lower(User.login_id) == login_id_key(login_id)


def login_id_taken(login_id: str, exclude_id: int | None = None) -> bool:
    """Another user of the organization in scope already has ``login_id``, in any case."""
    stmt = select(User.id).where(login_id_is(login_id))
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    return db.session.scalar(stmt) is not None


def normalize_org_name(name: str) -> str:
    """The form used to detect duplicates: width-folded (NFKC), spaces removed, case-folded."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or "")).casefold()


def name_taken(name: str, exclude_id: int | None = None) -> bool:
    """Another organization already has ``name``, compared in :func:`normalize_org_name`'s form."""
    wanted = normalize_org_name(name)
    stmt = select(Organization.id, Organization.name)
    return any(
        normalize_org_name(other) == wanted and org_id != exclude_id
        for org_id, other in db.session.execute(stmt)
    )


def signed_in_user() -> User:
    """The signed-in user itself, not Flask-Login's proxy (Flask-Login's anonymous user when nobody is signed
    in): for services, queries and ``is`` comparisons, and for code that reads several of its attributes (each
    through the proxy costs 4 µs, #17)."""
    return current_user._get_current_object()


def sign_in_page_for(user: User) -> str:
    """Where ``user`` signs in again: the organization's URL for a learner without email."""
    if not user.email and user.organization is not None:
        return url_for("auth.org_login", code=user.organization.code)
    return url_for("auth.login")


def upsert_user(*, email: str, role: Role, name: str, password: str, organization: Organization | None = None):
    """Create the user or update its name, role and password (create-operator, the demo); returns (user, created)."""
    user = db.session.scalar(select(User).where(User.email == email.lower()))
    created = user is None
    if created:
        user = User(email=email.lower(), organization_id=organization.id if organization else None)
        db.session.add(user)
    user.role = role
    user.name = name
    user.password_hash = hash_password(password)
    user.is_active_flag = True
    db.session.flush()
    return user, created
