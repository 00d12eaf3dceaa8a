"""Organizations (the tenants) and the people who sign in."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.tenancy import TenantScoped

if TYPE_CHECKING:
    from portal.models.learners import Department


class Role(enum.StrEnum):
    OPERATOR = "operator"
    SUPPORT = "support"
    ORG_ADMIN = "org_admin"
    MANAGER = "manager"
    LEARNER = "learner"

    @property
    def is_staff(self) -> bool:
        return self in (Role.OPERATOR, Role.SUPPORT)


STAFF_ROLES = frozenset({Role.OPERATOR, Role.SUPPORT})
ORG_ROLES = frozenset({Role.ORG_ADMIN, Role.MANAGER, Role.LEARNER})


class OrganizationStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


def new_org_code() -> str:
    return secrets.token_hex(4)


class Organization(db.Model):
    """A corporate customer. Not itself tenant-scoped: staff list them, members load their own."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # 法人番号 (13 digits, check digit valid: portal.corporations); empty for organizations registered before it.
    corporate_number: Mapped[str | None] = mapped_column(String(13))
    # Used in the login URL /o/<code> for learners without email.
    code: Mapped[str] = mapped_column(String(32), unique=True, default=new_org_code)
    status: Mapped[str] = mapped_column(String(16), default=OrganizationStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Whether learners may send questions to the support desk (the org admin decides).
    learners_may_ask: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The organization lets learners with an email address sign in by a one-time link.
    magic_link_sign_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The organization's administrators must sign in with a second factor (set by its admin or the operator).
    admins_require_mfa: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.code}>"


class User(UserMixin, TenantScoped, db.Model):
    """Anyone who signs in. Staff (operator, support) have no organization."""

    __tablename__ = "users"
    __table_args__ = (
        # The learner list filters by role, department and status within one organization.
        Index("ix_users_org_role_active", "organization_id", "role", "active"),
        Index("ix_users_org_department", "organization_id", "department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    # Stored lower-cased; unique across the service (one person, one organization).
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    # 受講者ID for learners who sign in at the organization's URL without email. Kept as the administrator
    # typed it; unique per organization ignoring case (the index below), compared through
    # portal.accounts.login_id_is().
    login_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Part of the Flask-Login id: changing it ends every session of this user.
    session_token: Mapped[str] = mapped_column(String(64), default=lambda: secrets.token_urlsafe(24))
    is_active_flag: Mapped[bool] = mapped_column("active", Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Learner details (#5). No ON DELETE action: a department with learners cannot be deleted.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    employment_type: Mapped[str | None] = mapped_column(String(16))
    # A learner from a third party (協力会社 etc.); #4 adds its approvals.
    # Two-factor sign-in (TOTP). The secret is encrypted with a key derived from the app's secret
    # (portal/mfa.py); the last accepted time step refuses a replayed code.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Keyed hashes of the unused recovery codes (portal/mfa.py; each used once, then removed).
    recovery_code_hashes: Mapped[list | None] = mapped_column(JSON)
    # When codes of the former, unkeyed kind were invalidated (migration 0015); cleared by new codes.
    recovery_codes_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by "someone may know my password" (Art. 13-4): the old password no longer signs in.
    password_compromised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the operator reset a lost second factor: the user must enroll again (cleared by enrolling).
    mfa_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When every session was last ended for the account's safety: personal links sent before it no longer
    # open anything (portal/link_sessions.py).
    sessions_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The TOTP secret being enrolled (encrypted like the enrolled one), until it is confirmed or expires:
    # kept here, never in the session cookie, which the browser can read.
    totp_pending_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_pending_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An organization's administrator receives the weekly summary unless they turn it off.
    wants_weekly_summary: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    organization: Mapped[Organization | None] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship()

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.is_active_flag

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_enabled_at is not None and bool(self.totp_secret_encrypted)

    def end_all_sessions(self, *, keep_links: bool = False) -> None:
        """Every session of this user ends. So do the personal links sent so far, unless ``keep_links``
        (signing out, or setting a first password: nothing suggests that someone else holds them)."""
        self.session_token = secrets.token_urlsafe(24)
        if not keep_links:
            self.sessions_ended_at = utcnow()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


# learner01 and LEARNER01 are the same person (#19). IDs are ASCII (portal/blueprints/learners/fields.py), so
# SQLite's lower() and PostgreSQL's agree. SQLAlchemy cannot reflect an index on an expression from SQLite:
# a later migration that copies the users table in batch mode must create this index again (see migration
# 0018_learnerids; tests/test_learners.py fails when it is missing).
Index("uq_users_organization_id_lower_login_id", User.organization_id, func.lower(User.login_id), unique=True)
