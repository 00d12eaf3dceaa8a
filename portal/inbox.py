"""The operator's inbox (#20 item 1): one queue of what waits on staff.

Two ways in, one table (``inbox_items``):

* at the moment a customer acts (an application confirmed, a termination requested, a leaked password
  reported, a handover started), the service that records the act calls :func:`open_item` in the same
  transaction: a rolled-back request leaves no item and sends no email;
* what only time makes due (an invoice past its due date, a ticket near or past its promise, a staff alert
  that did not arrive) is found by the periodic job :func:`sweep`, which opens items idempotently (the
  item's ``key``), so running it twice opens nothing twice.

Each new item queues one email to ``OPERATOR_EMAIL`` through the outbox (unless the act already emails
the operator itself) and counts on the operator's start page until someone marks it handled
(:func:`handle_item`, audited with who, when and the note).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, url_for
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.business_calendar import Break, business_time_between
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.jobs import periodic
from portal.models import DeskBreak, InboxItem, Invoice, Ticket, User
from portal.models.tickets import ACTIVE_STATUSES
from portal.outbox import external_url
from portal.rules import RuleViolation
from portal.staff_alerts import failed_staff_alerts, queue_staff_alert
from portal.tenancy import unscoped

# kind -> what the operator reads. The order is the filter's.
KINDS = {
    "application": _l("利用申込"),
    "termination": _l("利用終了の申し入れ"),
    "password_compromise": _l("パスワード漏えいの申告"),
    "handover": _l("主管理者の引き継ぎ"),
    "invoice_overdue": _l("支払期限を過ぎた請求書"),
    "staff_alert_failed": _l("届かなかったスタッフあての通知"),
    "ticket_due": _l("回答期限が近い・過ぎたお問い合わせ"),
}
STATES = {"open": _l("未対応"), "handled": _l("対応済み"), "all": _l("すべて")}
NOTE_MAX = 1000
# How far back the sweep looks for staff alerts that failed (the start page shows a week too).
FAILED_ALERTS_SINCE = timedelta(days=7)


def open_item(
    kind: str,
    key: str,
    *,
    subject_type: str,
    subject_id: int,
    organization_id: int | None = None,
    summary: str = "",
    notify: bool = True,
) -> InboxItem:
    """The open item for ``key``, created (and emailed to the operator) the first time only.

    ``notify=False`` when the act already emails the operator (a leaked-password report): one email, not two.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown inbox kind {kind!r}")
    key = f"{kind}:{key}"
    with unscoped("the inbox is the operator's, across organizations"):
        existing = db.session.scalar(select(InboxItem).where(InboxItem.key == key))
        if existing is not None:
            return existing
        item = InboxItem(
            kind=kind,
            key=key,
            subject_type=subject_type,
            subject_id=subject_id,
            organization_id=organization_id,
            summary=summary[:300],
        )
        try:
            # A concurrent request or worker may open the same key first; the savepoint keeps our transaction.
            with db.session.begin_nested():
                db.session.add(item)
        except IntegrityError:
            return db.session.scalar(select(InboxItem).where(InboxItem.key == key))
        if notify:
            queue_staff_alert(
                "OPERATOR_EMAIL",
                "inbox_item",
                idempotency_key=f"inbox_item:{item.id}",
                kind_label=str(KINDS[kind]),
                summary=item.summary,
                url=external_url("operator.inbox_item", item_id=item.id),
            )
        db.session.flush()
    return item


def handle_item(item: InboxItem, by: User, note: str = "") -> InboxItem:
    """Mark ``item`` handled by ``by`` now, with an optional note. :raises RuleViolation: already handled."""
    note = (note or "").strip()
    if item.handled_at is not None:
        raise RuleViolation(_l("この項目はすでに対応済みです。"))
    if len(note) > NOTE_MAX:
        raise RuleViolation(_l("メモは%(n)d文字以内で入力してください。", n=NOTE_MAX))
    item.handled_at = utcnow()
    item.handled_by_id = by.id
    item.note = note
    audit.record(
        "inbox.item_handled", target=item, organization_id=item.organization_id, actor=by, kind=item.kind, note=note
    )
    db.session.flush()
    return item


def items_query(kind: str = "", state: str = "open") -> Select:
    stmt = select(InboxItem)
    if kind in KINDS:
        stmt = stmt.where(InboxItem.kind == kind)
    if state == "open":
        stmt = stmt.where(InboxItem.handled_at.is_(None)).order_by(InboxItem.created_at, InboxItem.id)
    elif state == "handled":
        stmt = stmt.where(InboxItem.handled_at.is_not(None)).order_by(
            InboxItem.handled_at.desc(), InboxItem.id.desc()
        )
    else:
        stmt = stmt.order_by(InboxItem.created_at.desc(), InboxItem.id.desc())
    return stmt


def open_counts() -> dict[str, int]:
    """Open items by kind (every kind present, zero when none), in one query."""
    rows = db.session.execute(
        select(InboxItem.kind, func.count()).where(InboxItem.handled_at.is_(None)).group_by(InboxItem.kind)
    ).all()
    counts = dict.fromkeys(KINDS, 0)
    counts.update({kind: int(n) for kind, n in rows if kind in counts})
    return counts


# --- what time makes due ------------------------------------------------------------------------------


@periodic("inbox.sweep", every=timedelta(minutes=10))
def sweep(now: datetime) -> int:
    """Open items for overdue invoices, tickets near or past their promise and failed staff alerts.

    Idempotent: an item's key names its subject (and, for a ticket, the promise it is about), so a second
    run opens nothing new. Returns how many items this run opened.
    """
    with unscoped("the operator's queue covers every organization"):
        before = db.session.scalar(select(func.count()).select_from(InboxItem))
        _overdue_invoices(now)
        _tickets_near_promise(now)
        _failed_alerts(now)
        db.session.flush()
        return db.session.scalar(select(func.count()).select_from(InboxItem)) - before


def _overdue_invoices(now: datetime) -> None:
    today = today_in_tokyo(now)
    invoices = db.session.scalars(
        select(Invoice).where(Invoice.paid_at.is_(None), Invoice.due_on < today).order_by(Invoice.id)
    ).all()
    for invoice in invoices:
        open_item(
            "invoice_overdue",
            str(invoice.id),
            subject_type="Invoice",
            subject_id=invoice.id,
            organization_id=invoice.organization_id,
            summary=invoice.number,
        )


def _tickets_near_promise(now: datetime) -> None:
    breaks = [Break(row.first_day, row.last_day) for row in db.session.scalars(select(DeskBreak))]
    warn_before = timedelta(minutes=current_app.config["TICKET_WARN_BEFORE_MINUTES"])
    tickets = db.session.scalars(
        select(Ticket)
        .where(Ticket.sla_due_at.is_not(None), Ticket.status.in_([str(s) for s in ACTIVE_STATUSES]))
        .order_by(Ticket.id)
    ).all()
    for ticket in tickets:
        due = ticket.sla_due_at
        if now < due and business_time_between(now, due, breaks) > warn_before:
            continue
        # A new promise (the customer wrote again) is a new item.
        open_item(
            "ticket_due",
            f"{ticket.id}:{due:%Y%m%dT%H%M}",
            subject_type="Ticket",
            subject_id=ticket.id,
            organization_id=ticket.organization_id,
            summary=ticket.subject,
        )


def _failed_alerts(now: datetime) -> None:
    for message in failed_staff_alerts(now - FAILED_ALERTS_SINCE, limit=200):
        # The inbox's own email failing is already an open item; an item for it would email again, and fail.
        if message.template == "inbox_item":
            continue
        open_item(
            "staff_alert_failed",
            str(message.id),
            subject_type="OutboxMessage",
            subject_id=message.id,
            organization_id=message.organization_id,
            summary=message.subject,
        )


def subject_link(item: InboxItem) -> str | None:
    """Where the operator handles the underlying object, or None when there is no page for it."""
    endpoints = {
        "Application": ("applications.show", "application_id"),
        "Invoice": ("operator_billing.invoice_detail", "invoice_id"),
        "Ticket": ("tickets.show", "ticket_id"),
    }
    if item.subject_type in endpoints:
        endpoint, arg = endpoints[item.subject_type]
        return _url(endpoint, **{arg: item.subject_id})
    if item.subject_type == "OutboxMessage":
        return _url("mail.message", message_id=item.subject_id)
    if item.organization_id is not None:
        return _url("operator_organizations.organization_detail", org_id=item.organization_id)
    return None


def _url(endpoint: str, **values) -> str | None:
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)

