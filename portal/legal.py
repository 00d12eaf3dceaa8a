"""Versions of the terms and the other public texts (Art. 5, 25), and acceptance by administrators.

After a version of the terms takes effect, each organization administrator is shown it once, with
its differences from the previous version; continuing records the acceptance (who, when, IP). One
app-level ``before_request`` sends an administrator who has not accepted the current version to
that page; learners only see a short notice in the page header.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Flask, g, has_request_context, redirect, request, session, url_for
from sqlalchemy import select

from portal import audit
from portal.accounts import signed_in_user
from portal.audit import client_ip
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import DocumentKind, LegalDocument, Organization, Role, Subcontractor, TermsAcceptance, User
from portal.pagination import paginate_rows
from portal.rules import RuleViolation
from portal.site_state import ProcessCache
from portal.tenancy import unscoped

KIND_LABELS = {
    DocumentKind.TERMS: _l("利用規約"),
    DocumentKind.PRIVACY: _l("個人情報の取扱について"),
    DocumentKind.SECURITY: _l("セキュリティホワイトペーパー"),
}
ACCEPTANCE_ALLOWED = frozenset(
    {
        "static",
        "auth.login",
        "auth.logout",
        "auth.change_password",
        # Account security (#10): a second factor and "my password may be known" always work.
        "auth.two_factor",
        "auth.mfa_setup",
        "auth.mfa_disable",
        "auth.mfa_recovery_codes",
        "auth.report_compromised",
        "main.set_language",
        "status.page",
        "legal.page",
        "legal.accept",
        "legal.subcontractors",
    }
)
# How long learners see "the terms were revised" after a revision takes effect.
LEARNER_NOTICE_DAYS = 30


def current_document(kind: str, today: date | None = None) -> LegalDocument | None:
    today = today or today_in_tokyo()
    return db.session.scalar(
        select(LegalDocument)
        .where(LegalDocument.kind == kind, LegalDocument.effective_on <= today)
        .order_by(LegalDocument.effective_on.desc(), LegalDocument.id.desc())
        .limit(1)
    )


def previous_document(document: LegalDocument) -> LegalDocument | None:
    return db.session.scalar(
        select(LegalDocument)
        .where(
            LegalDocument.kind == document.kind,
            (LegalDocument.effective_on < document.effective_on)
            | ((LegalDocument.effective_on == document.effective_on) & (LegalDocument.id < document.id)),
        )
        .order_by(LegalDocument.effective_on.desc(), LegalDocument.id.desc())
        .limit(1)
    )


def publish_document(kind: str, version: str, body: str, effective_on: date, by: User) -> LegalDocument:
    """A new version; for the terms, every organization is told through a notice (Art. 25).

    :raises RuleViolation: unknown kind, a version label already used, an effective date in the past.
    """
    if kind not in set(DocumentKind):
        raise RuleViolation(_l("文書の種類を選んでください。"))
    if not version.strip() or not body.strip():
        raise RuleViolation(_l("版と本文を入力してください。"))
    if effective_on < today_in_tokyo():
        raise RuleViolation(_l("施行日は今日以降の日付にしてください。"))
    exists = db.session.scalar(
        select(LegalDocument.id).where(LegalDocument.kind == kind, LegalDocument.version == version.strip())
    )
    if exists is not None:
        raise RuleViolation(_l("この版はすでに登録されています。別の版の名前を付けてください。"))
    document = LegalDocument(
        kind=kind, version=version.strip(), body=body.strip(), effective_on=effective_on, created_by_id=by.id
    )
    db.session.add(document)
    db.session.flush()
    audit.record("legal.published", target=document, kind=kind, version=document.version)
    if kind == DocumentKind.TERMS:
        from portal.notices import NoticeDraft, publish_notice

        day = effective_on.strftime("%Y/%m/%d")
        if previous_document(document) is None:
            # The first version revises nothing: it is published, not 「改定」.
            draft = NoticeDraft(
                kind="general",
                title=str(_l("利用規約の公開(%(version)s)", version=document.version)),
                body=str(_l("利用規約を公開しました。施行日: %(day)s。", day=day)),
                organization_ids=None,
            )
        else:
            draft = NoticeDraft(
                kind="terms_revision",
                title=str(_l("利用規約の改定(%(version)s)", version=document.version)),
                body=str(
                    _l(
                        "利用規約を改定します。施行日: %(day)s。施行日以降に本サービスを利用された場合、"
                        "改定内容に同意したものとみなされます(利用規約第25条)。",
                        day=day,
                    )
                ),
                organization_ids=None,
            )
        publish_notice(draft, by)
    return document


def needs_acceptance(user) -> LegalDocument | None:
    """The current terms if ``user`` is an administrator who has not accepted them yet."""
    if not user.is_authenticated or user.role != Role.ORG_ADMIN:
        return None
    with unscoped("terms are global; the acceptance is read by the user"):
        document = current_document(DocumentKind.TERMS)
        if document is None:
            return None
        accepted = db.session.scalar(
            select(TermsAcceptance.id).where(
                TermsAcceptance.document_id == document.id, TermsAcceptance.user_id == user.id
            )
        )
    return None if accepted else document


def accept(document: LegalDocument, user: User) -> TermsAcceptance:
    acceptance = TermsAcceptance(
        document_id=document.id, user_id=user.id, organization_id=user.organization_id, ip=client_ip()
    )
    db.session.add(acceptance)
    db.session.flush()
    audit.record("legal.terms_accepted", target=document, version=document.version, ip=acceptance.ip)
    return acceptance


def differences(previous: LegalDocument | None, current: LegalDocument) -> list[tuple[str, str]]:
    """Lines tagged "added", "removed" or "same", for showing what changed."""
    if previous is None:
        return []
    lines = []
    for line in difflib.ndiff(previous.body.splitlines(), current.body.splitlines()):
        tag, text = line[:2], line[2:]
        if tag == "+ ":
            lines.append(("added", text))
        elif tag == "- ":
            lines.append(("removed", text))
        elif tag == "  ":
            lines.append(("same", text))
    return lines


def acceptances(document: LegalDocument) -> list[TermsAcceptance]:
    with unscoped("the operator reads every organization's acceptances"):
        return list(
            db.session.scalars(
                select(TermsAcceptance)
                .where(TermsAcceptance.document_id == document.id)
                .order_by(TermsAcceptance.accepted_at)
            )
        )


def all_acceptances(page: int, per_page: int = 50):
    """Who accepted which version of the terms and when, every version, newest first (a page of them)."""
    with unscoped("the operator reads every organization's acceptances"):
        stmt = (
            select(TermsAcceptance.accepted_at, LegalDocument.version, User.name, Organization.name, TermsAcceptance.ip)
            .join(LegalDocument, LegalDocument.id == TermsAcceptance.document_id)
            .join(User, User.id == TermsAcceptance.user_id)
            .join(Organization, Organization.id == TermsAcceptance.organization_id)
            .order_by(TermsAcceptance.accepted_at.desc(), TermsAcceptance.id.desc())
        )
        return paginate_rows(stmt, page, per_page=per_page)


@dataclass(frozen=True)
class RevisedTerms:
    """What the learners' notice shows of a recently revised version of the terms."""

    id: int
    effective_on: date


def _load_revised_terms(_now, today: date) -> RevisedTerms | None:
    with unscoped("a process-wide cache shared by every organization"):
        document = current_document(DocumentKind.TERMS, today)
        if document is None or document.effective_on < today - timedelta(days=LEARNER_NOTICE_DAYS):
            return None
        if previous_document(document) is None:
            return None
        return RevisedTerms(document.id, document.effective_on)


# Read for every learner's page; this process sees a new version at once, another within the lifetime.
_revised_terms = ProcessCache("revised terms", (LegalDocument,), timedelta(seconds=60), _load_revised_terms)


def learner_terms_notice() -> RevisedTerms | None:
    """A recently revised version of the terms, for the short notice learners see."""
    user = signed_in_user()
    if not user.is_authenticated or user.role != Role.LEARNER:
        return None
    now = utcnow()
    return _revised_terms.get(now, today_in_tokyo(now))


def _terms_context() -> dict:
    """The learners' notice of revised terms, computed before a template renders, once a request."""
    if not has_request_context():
        return {}
    if g.get("database_busy"):
        # The busy page renders without the database (portal/errors.py): no notice on it.
        return {"revised_terms": None}
    if "revised_terms" not in g:
        g.revised_terms = learner_terms_notice()
    return {"revised_terms": g.revised_terms}


def _load_current_terms_id(_now, today: date) -> int | None:
    with unscoped("a process-wide cache shared by every organization"):
        document = current_document(DocumentKind.TERMS, today)
    return document.id if document else None


# The gate below asks for every administrator's request which terms are in force.
_current_terms_id = ProcessCache("current terms", (LegalDocument,), timedelta(seconds=60), _load_current_terms_id)
# The version of the terms this session's administrator is known to have accepted (the gate's memo).
TERMS_ACCEPTED_KEY = "terms_ok"


def check_terms_acceptance():
    if request.endpoint in ACCEPTANCE_ALLOWED:
        return None
    user = signed_in_user()
    if not user.is_authenticated or user.role != Role.ORG_ADMIN:
        return None
    now = utcnow()
    in_force = _current_terms_id.get(now, today_in_tokyo(now))
    if in_force is None or session.get(TERMS_ACCEPTED_KEY) == in_force:
        return None
    if needs_acceptance(user) is None:
        session[TERMS_ACCEPTED_KEY] = in_force
        return None
    return redirect(url_for("legal.accept", next=request.path if request.method == "GET" else None))


def init_app(app: Flask) -> None:
    """The terms notice and labels (the acceptance gate is registered by portal/gates.py)."""
    app.context_processor(_terms_context)
    app.jinja_env.globals["legal_kind_labels"] = KIND_LABELS


# --- subcontractors (再委託先, Art. 6) ---------------------------------------------------------


def subcontractors() -> list[Subcontractor]:
    """The public list, by name."""
    return list(db.session.scalars(select(Subcontractor).order_by(Subcontractor.name, Subcontractor.id)))


def _subcontractor_fields(name: str, purpose: str, location: str) -> dict[str, str]:
    fields = {"name": (name or "").strip(), "purpose": (purpose or "").strip(), "location": (location or "").strip()}
    if not all(fields.values()):
        raise RuleViolation(_l("委託先の名称、委託する業務、所在地・国をすべて入力してください。"))
    return fields


def add_subcontractor(name: str, purpose: str, location: str, by: User) -> Subcontractor:
    """:raises RuleViolation: a field left empty."""
    subcontractor = Subcontractor(**_subcontractor_fields(name, purpose, location))
    db.session.add(subcontractor)
    db.session.flush()
    audit.record(
        "legal.subcontractor_added",
        target=subcontractor,
        actor=by,
        name=subcontractor.name,
        purpose=subcontractor.purpose,
        location=subcontractor.location,
    )
    return subcontractor


def update_subcontractor(subcontractor: Subcontractor, name: str, purpose: str, location: str, by: User) -> None:
    """Audited with what changed (before and after). :raises RuleViolation: a field left empty."""
    fields = _subcontractor_fields(name, purpose, location)
    changes = {k: [getattr(subcontractor, k), v] for k, v in fields.items() if getattr(subcontractor, k) != v}
    if not changes:
        return
    for key, value in fields.items():
        setattr(subcontractor, key, value)
    db.session.flush()
    audit.record("legal.subcontractor_changed", target=subcontractor, actor=by, changes=changes)


def remove_subcontractor(subcontractor: Subcontractor, by: User) -> None:
    audit.record(
        "legal.subcontractor_removed",
        target=subcontractor,
        actor=by,
        name=subcontractor.name,
        purpose=subcontractor.purpose,
        location=subcontractor.location,
    )
    db.session.delete(subcontractor)
    db.session.flush()
