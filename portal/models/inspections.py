"""セキュレジ: the library of inspection items (点検項目) by category, and the editions (版) built from it.

An item or edition with ``organization_id`` NULL belongs to the operator's global library that every organization
reads; an organization's own items are visible only to it (:class:`portal.tenancy.SharedOrTenantScoped`).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.tenancy import SharedOrTenantScoped

# The categories the demo library uses, in the order the screens list them; an item may name another.
INSPECTION_CATEGORIES = (
    "入退管理", "搬送・通信", "情報の保管", "ログインパスワード", "PCの利用", "ウイルス対策",
    "電子メールの利用", "携帯機器", "廃棄", "事故の報告",
)


class InspectionItem(SharedOrTenantScoped, db.Model):
    """点検項目: a yes/no statement about a habit, and why it matters."""

    __tablename__ = "inspection_items"
    __table_args__ = (Index("ix_inspection_items_category", "category", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(String(300))
    why: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # A retired item stays for past results but is no longer drawn or offered for editions.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def is_global(self) -> bool:
        return self.organization_id is None

    def __repr__(self) -> str:
        return f"<InspectionItem {self.id} {self.category}>"


class EditionKind(enum.StrEnum):
    EMPLOYEE = "employee"  # 従業員版: fixed items plus items drawn each month
    MANAGER = "manager"  # 管理者版: a manager answers for the team
    CLIENT_SITE = "client_site"  # 客先常駐版
    CUSTOM = "custom"  # an organization's own edition


class InspectionEdition(SharedOrTenantScoped, db.Model):
    """点検の版: a set of fixed items, plus ``drawn_count`` items drawn each month from other categories."""

    __tablename__ = "inspection_editions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=EditionKind.CUSTOM)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    drawn_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    fixed: Mapped[list[EditionItem]] = relationship(
        order_by="EditionItem.position", cascade="all, delete-orphan", back_populates="edition"
    )

    @property
    def is_global(self) -> bool:
        return self.organization_id is None


class EditionItem(db.Model):
    """A fixed item of an edition; reached only through an edition the caller may see."""

    __tablename__ = "inspection_edition_items"
    __table_args__ = (UniqueConstraint("edition_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("inspection_editions.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inspection_items.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    edition: Mapped[InspectionEdition] = relationship(back_populates="fixed")
    item: Mapped[InspectionItem] = relationship()
