"""Who is already registered: email addresses (unique service-wide) and organization names.

Every area that creates or renames a user or an organization asks here, so that the forms, the
services and the sign-in agree on what counts as the same address or the same name.
"""

from __future__ import annotations

import re
import unicodedata

from flask_login import current_user
from sqlalchemy import select

from portal.extensions import db
from portal.models import Organization, User
from portal.tenancy import unscoped


def normalize_email(value: str | None) -> str:
    """The stored form of an address: surrounding spaces removed, lower case ("" for none)."""
    return (value or "").strip().lower()


def email_taken(email: str, exclude_id: int | None = None) -> bool:
    """Another user anywhere in the service already has ``email`` (addresses are unique service-wide)."""
    stmt = select(User.id).where(User.email == normalize_email(email))
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    with unscoped():
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
    """The signed-in user itself, not Flask-Login's proxy: for services, queries and ``is`` comparisons."""
    return current_user._get_current_object()
