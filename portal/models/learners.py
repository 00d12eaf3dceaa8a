"""Departments (部署), managers' departments, and CSV import batches awaiting confirmation."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models.base import UTCDateTime, utcnow
from portal.tenancy import TenantScoped

MAX_DEPARTMENT_DEPTH = 3


class EmploymentType(enum.StrEnum):
    REGULAR = "regular"
    CONTRACT = "contract"
    DISPATCHED = "dispatched"
    PART_TIME = "part_time"
    OTHER = "other"


EMPLOYMENT_LABELS = {
    EmploymentType.REGULAR: _l("正社員"),
    EmploymentType.CONTRACT: _l("契約社員"),
    EmploymentType.DISPATCHED: _l("派遣社員"),
    EmploymentType.PART_TIME: _l("パート・アルバイト"),
    EmploymentType.OTHER: _l("その他"),
}


class Department(TenantScoped, db.Model):
    """A node of the organization's department tree; ``depth`` is 1 for a top-level department."""

    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("organization_id", "parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    # No ON DELETE action: a department with sub-departments cannot disappear under them (checked at
    # the end of the statement, so deleting a whole organization's tree at once still works).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    depth: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Department | None] = relationship(remote_side="Department.id")

    def __repr__(self) -> str:
        return f"<Department {self.id} {self.name}>"


class ManagerDepartment(TenantScoped, db.Model):
    """A manager looks after the learners of this department (and of its sub-departments)."""

    __tablename__ = "manager_departments"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ImportStatus(enum.StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    # The valid rows were applied; the refused ones are kept (``rows["refused"]``) for their download until
    # the batch expires.
    PARTIAL = "partial"
    CANCELLED = "cancelled"


class ImportBatch(TenantScoped, db.Model):
    """A parsed, normalised CSV kept between its preview and the administrator's decision."""

    __tablename__ = "import_batches"
    __table_args__ = (Index("ix_import_batches_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    encoding: Mapped[str] = mapped_column(String(16), default="")
    sync: Mapped[bool] = mapped_column(Boolean, default=False)
    invite: Mapped[bool] = mapped_column(Boolean, default=False)
    # The rows as normalised at upload (initial passwords already hashed), replanned at confirmation, and
    # the file's own cells ("source", initial passwords left out) for the download of the refused rows.
    rows: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
