"""What the operator's legal views read beside the rules, which are the core's ``portal/legal.py`` (publishing
a version, the acceptance gate, the subcontractors)."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import LegalDocument


def all_documents() -> list[LegalDocument]:
    """Every version of every public text, by kind, the latest in force first."""
    return list(
        db.session.scalars(
            select(LegalDocument).order_by(
                LegalDocument.kind, LegalDocument.effective_on.desc(), LegalDocument.id.desc()
            )
        )
    )
