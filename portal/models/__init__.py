"""Every model, imported here so that Alembic and the app see one metadata."""

from portal.models.accounts import (
    ORG_ROLES,
    STAFF_ROLES,
    Organization,
    OrganizationStatus,
    Role,
    User,
)
from portal.models.applications import Application, ApplicationStatus, ServiceKind
from portal.models.audit import AuditEvent
from portal.models.backoffice import (
    Contract,
    DeletionRecord,
    Handover,
    Invoice,
    OrganizationProfile,
    OrganizationStatusChange,
    SeatUsage,
    Termination,
    ThirdParty,
    ThirdPartyMember,
)
from portal.models.base import UTCDateTime, utcnow
from portal.models.learners import (
    MAX_DEPARTMENT_DEPTH,
    Department,
    EmploymentType,
    ImportBatch,
    ImportStatus,
    ManagerDepartment,
)
from portal.models.legal import DocumentKind, LegalDocument, TermsAcceptance
from portal.models.mail import MailAddressFailures, MailSuppression, SuppressionReason
from portal.models.notices import IncidentStatus, Notice, NoticeKind, NoticeRead, NoticeTarget, NoticeUpdate
from portal.models.outbox import OutboxMessage, OutboxStatus, outbox_message_id
from portal.models.tickets import (
    ACTIVE_STATUSES,
    CannedReply,
    DeskBreak,
    Ticket,
    TicketAttachment,
    TicketCategory,
    TicketEvent,
    TicketMessage,
    TicketStatus,
)
from portal.models.tokens import OneTimeToken
from portal.models.worker import JobRun, WorkerHeartbeat

__all__ = [
    "Application",
    "ApplicationStatus",
    "ServiceKind",
    "ACTIVE_STATUSES",
    "CannedReply",
    "DeskBreak",
    "Ticket",
    "TicketAttachment",
    "TicketCategory",
    "TicketEvent",
    "TicketMessage",
    "TicketStatus",
    "ORG_ROLES",
    "STAFF_ROLES",
    "MAX_DEPARTMENT_DEPTH",
    "AuditEvent",
    "Department",
    "EmploymentType",
    "ImportBatch",
    "ImportStatus",
    "ManagerDepartment",
    "IncidentStatus",
    "LegalDocument",
    "Notice",
    "NoticeKind",
    "NoticeRead",
    "NoticeTarget",
    "NoticeUpdate",
    "Contract",
    "DeletionRecord",
    "DocumentKind",
    "Handover",
    "Invoice",
    "JobRun",
    "MailAddressFailures",
    "MailSuppression",
    "OneTimeToken",
    "Organization",
    "OrganizationProfile",
    "OrganizationStatusChange",
    "OrganizationStatus",
    "OutboxMessage",
    "OutboxStatus",
    "Role",
    "SeatUsage",
    "TermsAcceptance",
    "Termination",
    "ThirdParty",
    "ThirdPartyMember",
    "SuppressionReason",
    "UTCDateTime",
    "User",
    "WorkerHeartbeat",
    "outbox_message_id",
    "utcnow",
]
