"""Email to the operator's own staff: the support desk, the on-call person and the security contact.

These addresses are configuration (``PORTAL_SUPPORT_EMAIL``, ``PORTAL_ONCALL_EMAIL``,
``PORTAL_OPERATOR_EMAIL``). A production start-up refuses addresses that cannot receive mail
(``portal.create_app``), because an alert that silently goes nowhere is worse than none: a customer's
emergency or a leaked password would wait for nobody. Elsewhere (development, tests) a bad address is
logged at start-up and shown on the operator's start page, as is every staff alert that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from email_validator import EmailNotValidError
from flask import current_app
from sqlalchemy import and_, or_, select

from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import MailSuppression, OutboxMessage, OutboxStatus
from portal.outbox import queue_email
from portal.smtp import deliverable_address
from portal.tenancy import unscoped

log = logging.getLogger("portal.staff_alerts")

# Setting -> who reads it.
STAFF_ADDRESSES = {
    "SUPPORT_EMAIL": _l("サポート窓口"),
    "ONCALL_EMAIL": _l("当番(時間外の緊急)"),
    "OPERATOR_EMAIL": _l("運営事務局(セキュリティの連絡先)"),
}
# Templates whose recipient is staff, not a customer: a failure of one of these is the operator's problem.
STAFF_TEMPLATES = (
    "tickets_new",
    "tickets_emergency",
    "tickets_reply_staff",
    "tickets_due_soon",
    "tickets_overdue",
    "password_compromise_reported",
    "inbox_item",
)


def address_problems(config: Mapping) -> dict[str, str]:
    """``{setting: why}`` for every staff address that is unset or cannot receive mail; empty when all can."""
    problems: dict[str, str] = {}
    for setting in STAFF_ADDRESSES:
        value = (config.get(setting) or "").strip()
        if not value:
            problems[setting] = "not set"
            continue
        try:
            deliverable_address(value)
        except EmailNotValidError as exc:
            problems[setting] = f"{value!r} cannot receive mail ({exc})"
    return problems


def start_up_message(problems: Mapping[str, str]) -> str:
    listed = "; ".join(f"PORTAL_{setting}: {why}" for setting, why in problems.items())
    return (
        f"Staff email addresses are not deliverable ({listed}). New-ticket alerts, out-of-hours emergency "
        "alerts and leaked-password reports would go nowhere. Set PORTAL_SUPPORT_EMAIL, PORTAL_ONCALL_EMAIL "
        "and PORTAL_OPERATOR_EMAIL to mailboxes that staff read (README, Configuration)."
    )


def queue_staff_alert(setting: str, template: str, *, idempotency_key: str, **context) -> bool:
    """Queue ``template`` to the staff address ``setting``; True when it can reach someone.

    The row is queued even when it cannot (the worker then marks it failed and the operator's start
    page shows it), so that the alert is never lost without trace; the caller must not tell the user
    that staff were told when this returns False.
    """
    address = (current_app.config.get(setting) or "").strip()
    if not address:
        log.error("staff alert %s not queued: %s is not set", template, setting)
        return False
    message = queue_email(template, address, idempotency_key=idempotency_key, **context)
    reachable = message.status in (OutboxStatus.PENDING, OutboxStatus.SENT) and _reachable(
        address, context.get("organization_id")
    )
    if not reachable:
        log.error("staff alert %s to %s (%s) cannot be delivered", template, address, setting)
    return reachable


def _reachable(address: str, organization_id: int | None) -> bool:
    try:
        deliverable_address(address)
    except EmailNotValidError:
        return False
    with unscoped("an address suppression belongs to no organization"):
        suppressed = db.session.scalar(
            select(MailSuppression.id)
            .where(
                or_(
                    MailSuppression.address == address.lower(),
                    and_(
                        MailSuppression.organization_id.is_not(None),
                        MailSuppression.organization_id == organization_id,
                    ),
                )
            )
            .limit(1)
        )
    return suppressed is None


def failed_staff_alerts(since: datetime, limit: int = 50) -> list[OutboxMessage]:
    """Staff alerts queued since ``since`` that did not arrive: given up on, suppressed, or still failing."""
    with unscoped("staff alerts belong to no organization"):
        return list(
            db.session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.template.in_(STAFF_TEMPLATES),
                    OutboxMessage.created_at >= since,
                    or_(
                        OutboxMessage.status.in_([OutboxStatus.DEAD, OutboxStatus.SUPPRESSED]),
                        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.last_error.is_not(None)),
                    ),
                )
                .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
                .limit(limit)
            )
        )
