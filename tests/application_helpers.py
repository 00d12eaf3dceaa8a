"""Applications for tests, written straight to the database (the form's path has its own tests)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import Application, DocumentKind, LegalDocument, utcnow

# Real, published corporate numbers (国税庁, トヨタ自動車株式会社): their check digits are right.
NTA_NUMBER = "7000012050002"
TOYOTA_NUMBER = "1180301018771"


def make_terms(version: str = "2026-04") -> LegalDocument:
    """A current version of the terms (the form needs one to record the acceptance)."""
    document = LegalDocument(
        kind=DocumentKind.TERMS, version=version, body="第1条 (定義)\n本規約は…", effective_on=today_in_tokyo()
    )
    db.session.add(document)
    db.session.flush()
    return document


def make_application(status: str = "confirmed", token: str | None = None, **fields) -> Application:
    """An application in an app context; ``token`` becomes its live confirmation link's secret."""
    now = utcnow()
    values = {
        "status": status,
        "corporate_name": "株式会社サンプル商事",
        "corporate_number": TOYOTA_NUMBER,
        "postal_code": "101-0062",
        "prefecture": "東京都",
        "address_line1": "千代田区神田駿河台1-1",
        "address_line2": "",
        "applicant_name": "申込 一郎",
        "applicant_email": "ichiro@sample.example.com",
        "admin_name": "管理 花子",
        "admin_email": "hanako@sample.example.com",
        "expected_learners": 40,
        "desired_start_on": today_in_tokyo() + timedelta(days=14),
        "services": "secutore,secureji",
        "terms_version": "2026-04",
        "terms_accepted_at": now,
        "confirmed_at": now if status != "unconfirmed" else None,
        "antisocial_declared_at": now,
        # Screened clear (Art. 24), so that approving it is possible; pass screening_result=None for one not yet.
        "screening_result": "clear" if status != "unconfirmed" else None,
        "screened_on": today_in_tokyo() if status != "unconfirmed" else None,
    }
    if token is not None:
        values["confirm_token_hash"] = hashlib.sha256(token.encode()).hexdigest()
        values["confirm_expires_at"] = now + timedelta(hours=48)
    values.update(fields)
    application = Application(**values)
    db.session.add(application)
    db.session.flush()
    return application
