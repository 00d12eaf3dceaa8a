"""What ``flask demo`` opens so that the demo works at once: learners who sign in at ``/o/demo`` with a
受講者ID, an open delivery of the demo course, an issued invoice and the published terms.

Each function adds its rows once (a second run finds them and adds nothing) and flushes; ``basic`` commits.
Dates come from :mod:`portal.clock`, so the demo is current on whatever day it is seeded.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select

from portal import audit, invoicing
from portal.blueprints.training.deliveries import services as deliveries
from portal.clock import TOKYO, today_in_tokyo
from portal.extensions import db
from portal.models import (
    Contract,
    Course,
    Delivery,
    DeliveryStatus,
    DocumentKind,
    Invoice,
    LegalDocument,
    Organization,
    Role,
    TargetKind,
    TermsAcceptance,
    User,
)
from portal.passwords import hash_password
from portal.tenancy import tenant_scope, unscoped

# Learners without email (受講者ID only), in lower case: they type it at /o/demo exactly as listed.
ID_LEARNERS = [
    ("learner21", "森 陸"), ("learner22", "池田 陽葵"), ("learner23", "橋本 蒼"), ("learner24", "阿部 紬"),
    ("learner25", "石川 樹"),
]
DELIVERY_DAYS = 30
# The operator's terms as last revised (改定日 2023年4月1日), from the service's published text.
TERMS_FILE = Path(__file__).with_name("terms.txt")
TERMS_VERSION = "2023年4月1日改定版"
TERMS_EFFECTIVE_ON = date(2023, 4, 1)


def fiscal_year(today: date) -> tuple[date, date]:
    """The Japanese fiscal year (April to March) that ``today`` falls in: (first day, last day)."""
    start = date(today.year if today.month >= 4 else today.year - 1, 4, 1)
    return start, date(start.year + 1, 3, 31)


def seed_id_learners(org: Organization, password: str, departments: list[int]) -> list[User]:
    """The learners of :data:`ID_LEARNERS` in ``org``, each in one of ``departments`` in turn; the password
    (and name, and active state) reset like every demo login."""
    learners = []
    with unscoped("the CLI seeds the demo organization"):
        existing = {u.login_id: u for u in db.session.scalars(
            select(User).where(User.organization_id == org.id, User.login_id.in_([i for i, _n in ID_LEARNERS])))}
        for position, (login_id, name) in enumerate(ID_LEARNERS):
            learner = existing.get(login_id)
            created = learner is None
            if created:
                learner = User(organization_id=org.id, login_id=login_id, email=None)
                db.session.add(learner)
            learner.role = Role.LEARNER
            learner.name = name
            learner.password_hash = hash_password(password)
            learner.is_active_flag = True
            if learner.department_id is None and departments:
                learner.department_id = departments[position % len(departments)]
            db.session.flush()
            if created:
                audit.record("user.created", target=learner, actor=None, source="demo")
            learners.append(learner)
    return learners


def open_delivery(org_id: int, course: Course, admin: User, now: datetime) -> tuple[Delivery, bool]:
    """A delivery of ``course`` to every learner of the organization, launched ``now`` and due in
    :data:`DELIVERY_DAYS` days at 18:00 in Tokyo; (delivery, created). A launched delivery of the course
    that is still before its due date is kept instead. Its emails go out at any hour (the demo's mail sink
    shows them at once)."""
    with tenant_scope(org_id):
        existing = db.session.scalar(
            select(Delivery).where(Delivery.course_id == course.id, Delivery.status == DeliveryStatus.LAUNCHED,
                                   Delivery.due_at > now).order_by(Delivery.id.desc()).limit(1)
        )
        if existing is not None:
            return existing, False
        due_day = today_in_tokyo(now + timedelta(days=DELIVERY_DAYS))
        delivery = deliveries.create_delivery(deliveries.DeliveryInput(
            course=course, title="", target_kind=TargetKind.EVERYONE, department_ids=[], learner_ids=[],
            starts_at=now, due_at=datetime.combine(due_day, time(18), tzinfo=TOKYO), reminder_days=[-3, -1],
            window_start_hour=0, window_end_hour=24, business_days_only=False,
        ), by=admin, now=now)
        db.session.flush()
    return delivery, True


def issue_invoice(org: Organization, operator: User) -> tuple[Invoice | None, bool]:
    """The invoice of the organization's contract period, issued today by ``operator`` (its email queued
    to the primary administrator); (invoice, created), (None, False) without a contract. An invoice of
    that period already issued is kept.

    :raises RuleViolation: the issuer's registration number or bank account is not configured (production
        refuses until they are set; development has demo values).
    """
    with unscoped("the CLI seeds the demo organization"):
        contract = db.session.scalar(select(Contract).where(Contract.organization_id == org.id))
        if contract is None:
            return None, False
        existing = db.session.scalar(select(Invoice).where(Invoice.organization_id == org.id,
                                                           Invoice.period_start == contract.starts_on))
        if existing is not None:
            return existing, False
        invoice = invoicing.issue_invoice(
            org, contract, period_start=contract.starts_on, period_end=contract.ends_on,
            due_on=invoicing.default_due_on(),
            overage_seats=invoicing.suggested_overage_seats(contract, contract.starts_on, contract.ends_on),
            by=operator,
        )
    return invoice, True


def publish_terms(operator: User, admins: list[User]) -> tuple[LegalDocument | None, bool]:
    """The service's terms as the current version, unless a version of the terms exists already (the
    operator's own stays); (document, created). ``admins`` accepted it when their organization applied,
    so they are not sent to the acceptance page at their first sign-in.

    Not :func:`portal.legal.publish_document`: that one is for revisions (an effective date from today,
    a notice to every organization), and this is the first version, in force since its own date.
    """
    with unscoped("the CLI seeds the terms and their acceptance"):
        existing = db.session.scalar(select(LegalDocument).where(LegalDocument.kind == DocumentKind.TERMS)
                                     .order_by(LegalDocument.effective_on.desc(), LegalDocument.id.desc()).limit(1))
        if existing is not None:
            return existing, False
        document = LegalDocument(kind=DocumentKind.TERMS, version=TERMS_VERSION,
                                 body=TERMS_FILE.read_text(encoding="utf-8").strip(),
                                 effective_on=TERMS_EFFECTIVE_ON, created_by_id=operator.id)
        db.session.add(document)
        db.session.flush()
        audit.record("legal.published", target=document, actor=None, kind=document.kind, version=document.version,
                     source="demo")
        for admin in admins:
            db.session.add(TermsAcceptance(document_id=document.id, user_id=admin.id,
                                           organization_id=admin.organization_id))
        db.session.flush()
    return document, True

