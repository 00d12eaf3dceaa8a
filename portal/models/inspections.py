"""セキュレジ: the library of inspection items (点検項目) by category, and the editions (版) built from it.

An item or edition with ``organization_id`` NULL belongs to the operator's global library that every organization
reads; an organization's own items are visible only to it (:class:`portal.tenancy.SharedOrTenantScoped`).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.sending import SendingSchedule
from portal.tenancy import SharedOrTenantScoped, TenantScoped

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


# --- rounds, answers, results, follow-up ---------------------------------------------------------------


class RoundStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"  # launched: learners answer until the due date
    CLOSED = "closed"  # past the due date or closed by hand: answers are final


class InspectionRound(SendingSchedule, TenantScoped, db.Model):
    """点検回: one edition asked of a set of people for one 点検月, with a due date and reminders.

    ``item_ids`` are the fixed items and the month's drawn items, frozen when the round is created so that
    every answer of the round is to the same questions whatever later happens to the library.
    """

    __tablename__ = "inspection_rounds"
    __table_args__ = (
        Index("ix_inspection_rounds_status_start", "status", "starts_at"),
        Index("ix_inspection_rounds_org_month", "organization_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    edition_id: Mapped[int] = mapped_column(ForeignKey("inspection_editions.id"), index=True)
    # 点検月: the first day of the month inspected.
    month: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    item_ids: Mapped[list] = mapped_column(JSON, default=list)
    previous_round_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_rounds.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=RoundStatus.SCHEDULED)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    edition: Mapped[InspectionEdition] = relationship()

    def __repr__(self) -> str:
        return f"<InspectionRound {self.id} {self.month:%Y-%m}>"


class ResponseStatus(enum.StrEnum):
    NOT_STARTED = "not_started"  # 未回答
    IN_PROGRESS = "in_progress"  # 回答中: saved, not submitted
    SUBMITTED = "submitted"  # 提出済 (still editable until the due date)


# ``InspectionResponse.subject`` for a person answering about themselves; a manager answering for a
# team has ``team:<department id>``.
SELF_SUBJECT = "self"


class InspectionResponse(TenantScoped, db.Model):
    """One person's (or, for the manager edition, one team's) answer sheet in a round."""

    __tablename__ = "inspection_responses"
    __table_args__ = (
        UniqueConstraint("round_id", "respondent_id", "subject"),
        Index("ix_inspection_responses_round_status", "round_id", "status"),
        Index("ix_inspection_responses_respondent", "respondent_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_rounds.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(24), default=SELF_SUBJECT)
    # The department the answers count for: the respondent's at launch, or the team's for a manager.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    # SHA-256 of the personal link's secret (the secret itself is only in the email).
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ResponseStatus.NOT_STARTED)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_manual_reminder_on: Mapped[date | None] = mapped_column(Date)

    round: Mapped[InspectionRound] = relationship()
    respondent = relationship("User")


class AnswerValue(enum.StrEnum):
    YES = "yes"  # はい
    NO = "no"  # いいえ (a comment is required)
    NOT_APPLICABLE = "na"  # 該当なし


class InspectionAnswer(TenantScoped, db.Model):
    """An answer to one item of a response, saved as the person goes."""

    __tablename__ = "inspection_answers"
    __table_args__ = (
        UniqueConstraint("response_id", "item_id"),
        Index("ix_inspection_answers_round_value", "round_id", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    response_id: Mapped[int] = mapped_column(ForeignKey("inspection_responses.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_rounds.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("inspection_items.id"), index=True)
    value: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    response: Mapped[InspectionResponse] = relationship()
    item: Mapped[InspectionItem] = relationship()


class InspectionTally(TenantScoped, db.Model):
    """Counts of the submitted answers of a round by department and item, kept in step with every
    submission (rows are written at launch; a submission only adds and subtracts), so that results over
    twelve months read a few thousand rows instead of every answer."""

    __tablename__ = "inspection_tallies"
    __table_args__ = (UniqueConstraint("round_id", "department_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_rounds.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    item_id: Mapped[int] = mapped_column(ForeignKey("inspection_items.id"))
    yes_count: Mapped[int] = mapped_column(Integer, default=0)
    no_count: Mapped[int] = mapped_column(Integer, default=0)
    na_count: Mapped[int] = mapped_column(Integer, default=0)


class ActionStatus(enum.StrEnum):
    OPEN = "open"  # 未着手
    IN_PROGRESS = "in_progress"  # 対応中
    DONE = "done"  # 完了


class CorrectiveAction(TenantScoped, db.Model):
    """是正処置: what will be done about a いいえ answer, by whom and by when."""

    __tablename__ = "corrective_actions"
    __table_args__ = (Index("ix_corrective_actions_org_status", "organization_id", "status", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_answers.id", ondelete="SET NULL"),
                                                  unique=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_rounds.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inspection_items.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=ActionStatus.OPEN)
    notes: Mapped[str] = mapped_column(Text, default="")
    # A delivery of the related lesson assigned to the person who answered いいえ, when one was made.
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    round: Mapped[InspectionRound] = relationship()
    item: Mapped[InspectionItem] = relationship()
    owner = relationship("User", foreign_keys=[owner_id])
