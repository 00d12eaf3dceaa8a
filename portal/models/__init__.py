"""Every model, imported here so that Alembic and the app see one metadata."""

from portal.models.accounts import (
    ORG_ROLES,
    STAFF_ROLES,
    Organization,
    OrganizationStatus,
    Role,
    User,
)
from portal.models.audit import AuditEvent
from portal.models.base import UTCDateTime, utcnow
from portal.models.mail import MailAddressFailures, MailSuppression, SuppressionReason
from portal.models.outbox import OutboxMessage, OutboxStatus, outbox_message_id
from portal.models.tokens import OneTimeToken
from portal.models.worker import JobRun, WorkerHeartbeat

__all__ = [
    "ORG_ROLES",
    "STAFF_ROLES",
    "AuditEvent",
    "JobRun",
    "MailAddressFailures",
    "MailSuppression",
    "OneTimeToken",
    "Organization",
    "OrganizationStatus",
    "OutboxMessage",
    "OutboxStatus",
    "Role",
    "SuppressionReason",
    "UTCDateTime",
    "User",
    "WorkerHeartbeat",
    "outbox_message_id",
    "utcnow",
]
