"""Applications for the service (利用申込, terms Art. 16-2-2): submission, email confirmation, review.

Corporate customers only (Art. 2-1). Every function validates, writes, audits, queues email and
flushes; the view commits once. A broken rule raises :class:`RuleViolation` (Japanese message).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Select, delete, func, or_, select, update

from portal import audit, inbox, organizations
from portal.accounts import name_taken, normalize_email
from portal.clock import today_in_tokyo, utcnow
from portal.contracts import ContractTerms
from portal.corporations import (  # noqa: F401 (the registration form uses them through this module)
    CORPORATE_FORMS,
    corporate_number_valid,
    looks_like_corporation,
    normalize_corporate_number,
)
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.jobs import periodic
from portal.models import (
    Application,
    ApplicationStatus,
    LegalDocument,
    Organization,
    ScreeningResult,
    ServiceKind,
    User,
)
from portal.outbox import external_url, queue_email
from portal.rules import RuleViolation
from portal.tenancy import unscoped

SERVICE_LABELS = {ServiceKind.SECUTORE: _l("セキュトレ"), ServiceKind.SECUREJI: _l("セキュレジ")}
STATUS_LABELS = {
    ApplicationStatus.UNCONFIRMED: _l("メール未確認"),
    ApplicationStatus.CONFIRMED: _l("審査待ち"),
    ApplicationStatus.APPROVED: _l("承認済み"),
    ApplicationStatus.REJECTED: _l("お断り済み"),
}
SCREENING_LABELS = {
    ScreeningResult.CLEAR: _l("該当なし(問題なし)"),
    ScreeningResult.CONCERN: _l("懸念あり"),
}
# Applications the operator still has to decide, or that may still become so.
PENDING = (ApplicationStatus.UNCONFIRMED, ApplicationStatus.CONFIRMED)

# Throwaway-inbox providers. A short list kept here on purpose (no dependency to keep in step); it
# covers the providers seen most; add a domain when one turns up. Subdomains match too.
DISPOSABLE_DOMAINS = frozenset(
    {
        "10minutemail.com",
        "20minutemail.com",
        "33mail.com",
        "burnermail.io",
        "discard.email",
        "dispostable.com",
        "emailondeck.com",
        "fakeinbox.com",
        "getairmail.com",
        "getnada.com",
        "guerrillamail.com",
        "guerrillamail.net",
        "guerrillamail.org",
        "guerrillamailblock.com",
        "maildrop.cc",
        "mailinator.com",
        "mailnesia.com",
        "mintemail.com",
        "moakt.com",
        "mohmal.com",
        "mytemp.email",
        "nada.email",
        "sharklasers.com",
        "spam4.me",
        "spamgourmet.com",
        "temp-mail.org",
        "tempail.com",
        "tempmail.dev",
        "tempmailo.com",
        "tempr.email",
        "throwawaymail.com",
        "trashmail.com",
        "trashmail.de",
        "yopmail.com",
        "yopmail.fr",
    }
)

CONFIRM_PURPOSE_PREFIX = "application_confirm"


# --- rules of the form ------------------------------------------------------------------------


def is_disposable(email: str) -> bool:
    domain = normalize_email(email).rpartition("@")[2]
    parts = domain.split(".")
    return any(".".join(parts[i:]) in DISPOSABLE_DOMAINS for i in range(len(parts) - 1))


def earliest_start(now: datetime | None = None) -> date:
    return today_in_tokyo(now)


# --- submission and confirmation --------------------------------------------------------------


@dataclass
class ApplicationData:
    corporate_name: str
    corporate_number: str
    postal_code: str
    prefecture: str
    address_line1: str
    address_line2: str
    applicant_name: str
    applicant_department: str
    applicant_email: str
    admin_name: str
    admin_department: str
    admin_email: str
    expected_learners: int
    desired_start_on: date
    services: list[str]
    # The declaration of Art. 24-1 (not an anti-social force), ticked on the form.
    antisocial_declared: bool = False


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _issue_confirmation(application: Application, now: datetime) -> None:
    """A fresh single-use link (earlier ones stop working), emailed to the applicant."""
    ttl: timedelta = current_app.config["APPLICATION_CONFIRM_TTL"]
    raw = secrets.token_urlsafe(32)
    application.confirm_token_hash = _digest(raw)
    application.confirm_expires_at = now + ttl
    db.session.flush()
    queue_email(
        "application_confirm",
        application.applicant_email,
        idempotency_key=f"application_confirm:{application.id}:{application.confirm_token_hash[:16]}",
        application=application,
        confirm_url=external_url("registration.confirm", token=raw),
        hours=int(ttl.total_seconds() // 3600),
    )


@unscoped("an anonymous visitor: no organization yet, the outbox and audit are global")
def submit_application(
    data: ApplicationData, terms: LegalDocument, ip: str | None, now: datetime | None = None
) -> Application | None:
    """Store an application and email its confirmation link; the caller shows one polite answer in every case.

    - The same applicant email has an application under review: nothing is stored; that address is told
      by email that the earlier application is being reviewed (no one else learns it exists).
    - The same applicant email has an unconfirmed one: it is replaced by this one (it never reached anyone).
    - Another pending application or a customer with the same 法人番号 or email: stored, flagged for the operator.

    :raises RuleViolation: a rule the form should have caught (bad 法人番号, not a corporation, past date).
    """
    now = now or utcnow()
    if not corporate_number_valid(data.corporate_number):
        raise RuleViolation(_l("法人番号が正しくありません。13桁の番号をご確認ください。"))
    if not looks_like_corporation(data.corporate_name):
        raise RuleViolation(_l("本サービスは法人のみお申込みいただけます。"))
    if data.desired_start_on < earliest_start(now):
        raise RuleViolation(_l("利用開始希望日は今日以降の日付にしてください。"))
    if not data.antisocial_declared:
        raise RuleViolation(_l("お申込みには反社会的勢力ではないことの表明・保証が必要です(利用規約第24条)。"))
    email = normalize_email(data.applicant_email)
    under_review = db.session.scalar(
        select(Application).where(
            Application.applicant_email == email, Application.status == ApplicationStatus.CONFIRMED
        )
    )
    if under_review is not None:
        queue_email(
            "application_already_pending",
            email,
            idempotency_key=f"application_already_pending:{under_review.id}:{now.date().isoformat()}",
            application=under_review,
        )
        audit.record("application.repeat_refused", target=under_review)
        db.session.flush()
        return None
    for stale in db.session.scalars(
        select(Application).where(
            Application.applicant_email == email, Application.status == ApplicationStatus.UNCONFIRMED
        )
    ):
        audit.record("application.superseded", target=stale)
        db.session.delete(stale)
    db.session.flush()
    application = Application(
        status=ApplicationStatus.UNCONFIRMED,
        corporate_name=data.corporate_name.strip(),
        corporate_number=data.corporate_number,
        postal_code=data.postal_code,
        prefecture=data.prefecture,
        address_line1=data.address_line1.strip(),
        address_line2=(data.address_line2 or "").strip(),
        applicant_name=data.applicant_name.strip(),
        applicant_department=(data.applicant_department or "").strip(),
        applicant_email=email,
        admin_name=data.admin_name.strip(),
        admin_department=(data.admin_department or "").strip(),
        admin_email=normalize_email(data.admin_email),
        expected_learners=data.expected_learners,
        desired_start_on=data.desired_start_on,
        services=",".join(s for s in ServiceKind if s in data.services),
        terms_document_id=terms.id,
        terms_version=terms.version,
        terms_accepted_at=now,
        antisocial_declared_at=now,
        ip=ip,
        created_at=now,
    )
    db.session.add(application)
    db.session.flush()
    audit.record(
        "application.submitted",
        target=application,
        corporate_number=application.corporate_number,
        terms_version=terms.version,
        antisocial_declared=True,
    )
    _issue_confirmation(application, now)
    db.session.flush()
    return application


class LinkExpired(Exception):
    """The confirmation link was right but is too old; ``application`` can be sent a new one."""

    def __init__(self, application: Application):
        super().__init__("expired")
        self.application = application


class LinkInvalid(Exception):
    """Unknown, or already used."""


@unscoped("an anonymous visitor: no organization yet, the outbox and audit are global")
def application_for_link(raw: str, now: datetime | None = None) -> Application:
    """The unconfirmed application a live link belongs to. :raises LinkExpired: :raises LinkInvalid:"""
    if not raw or len(raw) > 200:
        raise LinkInvalid
    application = db.session.scalar(select(Application).where(Application.confirm_token_hash == _digest(raw)))
    if application is None or application.status != ApplicationStatus.UNCONFIRMED:
        raise LinkInvalid
    if application.confirm_expires_at <= (now or utcnow()):
        raise LinkExpired(application)
    return application


@unscoped("an anonymous visitor: no organization yet, the outbox and audit are global")
def confirm_application(raw: str, now: datetime | None = None) -> Application:
    """Confirm the applicant's email once; the application then reaches the operator.

    :raises LinkExpired: :raises LinkInvalid: also when a concurrent request used the link first.
    """
    now = now or utcnow()
    application = application_for_link(raw, now)
    result = db.session.execute(
        update(Application)
        .where(
            Application.id == application.id,
            Application.status == ApplicationStatus.UNCONFIRMED,
            Application.confirm_token_hash == _digest(raw),
        )
        .values(status=ApplicationStatus.CONFIRMED, confirmed_at=now, confirm_token_hash=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise LinkInvalid
    db.session.refresh(application)
    audit.record("application.confirmed", target=application)
    queue_email(
        "application_received",
        application.applicant_email,
        idempotency_key=f"application_received:{application.id}",
        application=application,
        service_labels=[str(SERVICE_LABELS[s]) for s in application.service_list],
    )
    # Confirmed, the application waits on the operator's review.
    inbox.open_item(
        "application",
        str(application.id),
        subject_type="Application",
        subject_id=application.id,
        summary=application.corporate_name,
    )
    db.session.flush()
    return application


@unscoped("an anonymous visitor: no organization yet, the outbox and audit are global")
def resend_confirmation(raw: str, now: datetime | None = None) -> Application:
    """A new link for the application whose (expired or live) link is ``raw``. :raises LinkInvalid:"""
    now = now or utcnow()
    try:
        application = application_for_link(raw, now)
    except LinkExpired as expired:
        application = expired.application
    _issue_confirmation(application, now)
    audit.record("application.confirmation_resent", target=application)
    db.session.flush()
    return application


# --- review by the operator -------------------------------------------------------------------


def applications_query(status: str = "", q: str = "") -> Select:
    stmt = select(Application).order_by(Application.created_at.desc(), Application.id.desc())
    if status in set(ApplicationStatus):
        stmt = stmt.where(Application.status == status)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(
            or_(
                Application.corporate_name.icontains(q, autoescape=True),
                Application.corporate_number.icontains(q, autoescape=True),
                Application.applicant_email.icontains(q, autoescape=True),
                Application.admin_email.icontains(q, autoescape=True),
            )
        )
    return stmt


def status_counts() -> dict[str, int]:
    counts = dict.fromkeys((str(s) for s in ApplicationStatus), 0)
    rows = db.session.execute(select(Application.status, func.count(Application.id)).group_by(Application.status))
    counts.update(dict(rows.all()))
    return counts


def duplicate_flags(application: Application) -> list[str]:
    """Why this application may duplicate a customer or another application (shown to the operator)."""
    flags: list[str] = []
    emails = {application.applicant_email, application.admin_email}
    customer_number = db.session.scalar(
        select(Application.id).where(
            Application.corporate_number == application.corporate_number,
            Application.status == ApplicationStatus.APPROVED,
            Application.id != application.id,
        )
    )
    if customer_number is not None:
        flags.append(str(_l("同じ法人番号の申込がすでに承認されています(既存のお客様)。")))
    if name_taken(application.corporate_name):
        flags.append(str(_l("同じ法人名の組織がすでに登録されています。")))
    taken = db.session.scalars(select(User.email).where(User.email.in_(emails))).all()
    for email in sorted(taken):
        flags.append(str(_l("%(email)s はすでに利用者として登録されています。", email=email)))
    others = db.session.scalars(
        select(Application)
        .where(
            Application.id != application.id,
            Application.status.in_(PENDING),
            or_(
                Application.corporate_number == application.corporate_number,
                Application.applicant_email.in_(emails),
                Application.admin_email.in_(emails),
            ),
        )
        .order_by(Application.id)
    ).all()
    for other in others:
        flags.append(
            str(_l("処理中の別の申込(受付番号 %(ref)s)と法人番号またはメールアドレスが同じです。", ref=other.reference))
        )
    return flags


def suggested_terms(application: Application) -> dict:
    """What the approval form starts with: the applicant's start date, a year, the expected learners."""
    start = max(application.desired_start_on, today_in_tokyo())
    try:
        end = start.replace(year=start.year + 1) - timedelta(days=1)
    except ValueError:  # 29 February
        end = start + timedelta(days=364)
    labels = "・".join(str(SERVICE_LABELS[s]) for s in application.service_list)
    return {
        "plan_name": labels,
        "starts_on": start,
        "ends_on": end,
        "seat_limit": application.expected_learners,
    }


def _require_confirmed(application: Application) -> None:
    if application.status != ApplicationStatus.CONFIRMED:
        raise RuleViolation(_l("この申込は審査待ちではありません(メール未確認、または処理済みです)。"))


def record_screening(application: Application, result: str, screened_on: date, note: str, by: User) -> None:
    """Record the operator's anti-social-forces screening (Art. 24-2); a later one replaces it, audited.

    :raises RuleViolation: not waiting for review, an unknown result, a day in the future, a concern without a note.
    """
    _require_confirmed(application)
    if result not in set(ScreeningResult):
        raise RuleViolation(_l("確認結果を選んでください。"))
    if screened_on > today_in_tokyo():
        raise RuleViolation(_l("確認日は今日以前の日付にしてください。"))
    note = (note or "").strip()
    if result == ScreeningResult.CONCERN and not note:
        raise RuleViolation(_l("懸念ありの場合は、確認の内容をメモに入力してください。"))
    application.screening_result = result
    application.screened_on = screened_on
    application.screened_by_id = by.id
    application.screening_note = note
    db.session.flush()
    audit.record(
        "application.screened", target=application, actor=by, result=result, screened_on=screened_on.isoformat()
    )


def approve_application(application: Application, terms: ContractTerms, by: User) -> Organization:
    """Create the organization, its contract and administrator as the operator's form does, and invite him.

    :raises RuleViolation: not waiting for review, no screening recorded or a concern found (Art. 24), or the
        organization cannot be created (duplicate name or administrator email, bad contract terms).
    """
    _require_confirmed(application)
    if application.screening_result != ScreeningResult.CLEAR:
        audit.record_denial(
            "application.approval_refused", target=application, actor=by, screening=application.screening_result
        )
        if application.screening_result == ScreeningResult.CONCERN:
            raise RuleViolation(_l("反社会的勢力の確認で懸念ありと記録された申込は承認できません(利用規約第24条)。"))
        raise RuleViolation(_l("承認の前に、反社会的勢力の確認結果(反社チェック)を記録してください。"))
    org = organizations.create_organization(
        application.corporate_name,
        terms,
        application.admin_name,
        application.admin_email,
        by,
        corporate_number=application.corporate_number,
    )
    profile = organizations.get_profile(org)
    profile.postal_code = application.postal_code
    profile.prefecture = application.prefecture
    profile.address_line1 = application.address_line1
    profile.address_line2 = application.address_line2
    application.status = ApplicationStatus.APPROVED
    application.organization_id = org.id
    application.decided_at = utcnow()
    application.decided_by_id = by.id
    db.session.flush()
    audit.record("application.approved", target=application, organization_id=org.id, actor=by)
    queue_email(
        "application_approved",
        application.applicant_email,
        idempotency_key=f"application_approved:{application.id}",
        organization_id=org.id,
        application=application,
        starts_on=terms.starts_on,
    )
    db.session.flush()
    return org


def reject_application(application: Application, reason: str, by: User) -> Application:
    """Decline with a reason the applicant reads. :raises RuleViolation: not waiting for review, no reason."""
    _require_confirmed(application)
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation(_l("お断りの理由を入力してください。"))
    application.status = ApplicationStatus.REJECTED
    application.rejection_reason = reason
    application.decided_at = utcnow()
    application.decided_by_id = by.id
    db.session.flush()
    audit.record("application.rejected", target=application, actor=by, reason=reason)
    queue_email(
        "application_rejected",
        application.applicant_email,
        idempotency_key=f"application_rejected:{application.id}",
        application=application,
        reason=reason,
        contact=current_app.config["SUPPORT_EMAIL"],
    )
    db.session.flush()
    return application


@periodic("applications.purge_unconfirmed", every=timedelta(hours=6))
def purge_unconfirmed(now: datetime) -> int:
    """Delete applications whose confirmation link expired long ago: their data was never confirmed."""
    cutoff = now - current_app.config["APPLICATION_UNCONFIRMED_RETENTION"]
    result = db.session.execute(
        delete(Application).where(
            Application.status == ApplicationStatus.UNCONFIRMED, Application.confirm_expires_at < cutoff
        )
    )
    if result.rowcount:
        audit.record("application.unconfirmed_purged", count=result.rowcount)
    db.session.flush()
    return result.rowcount
