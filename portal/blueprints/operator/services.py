"""The operator's own back office: its home (what needs the operator's attention).

Every function validates its business rule, writes, audits, queues email and flushes; the view
commits once. A broken rule raises :class:`RuleViolation` with a Japanese message for the user.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    OutboxMessage,
    OutboxStatus,
)
from portal.tenancy import unscoped

# --- the operator's home ----------------------------------------------------------------------


def dead_emails_since(since: datetime) -> list[OutboxMessage]:
    """Emails given up on (status dead) among those queued since ``since``."""
    with unscoped("the operator sees every organization's email"):
        return list(
            db.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.DEAD, OutboxMessage.created_at >= since)
                .order_by(OutboxMessage.created_at.desc())
                .limit(50)
            )
        )


