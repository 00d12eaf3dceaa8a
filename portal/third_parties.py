"""Third parties (Art. 14): only those the operator approved may use the service under a customer.

The operator records approvals per organization; the organization marks learners as belonging to an
approved third party. Marking a learner for a third party without (or after revoking) approval is
refused. Learner management may call :func:`mark_learner` when it imports learners.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from portal import audit
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import Organization, Role, ThirdParty, ThirdPartyMember, User
from portal.rules import RuleViolation
from portal.tenancy import unscoped

NOT_APPROVED = _l(
    "第三者に本サービスを利用させるには、運営事務局の事前の承諾が必要です(利用規約第14条)。"
    "承諾済みの第三者だけを選べます。"
)


def approve(org: Organization, name: str, note: str, by: User) -> ThirdParty:
    """:raises RuleViolation: no name, or the name is approved for this organization already."""
    name = name.strip()
    if not name:
        raise RuleViolation(_l("第三者の名称を入力してください。"))
    with unscoped("the operator acts on any organization"):
        exists = db.session.scalar(
            select(ThirdParty.id).where(
                ThirdParty.organization_id == org.id, ThirdParty.name == name, ThirdParty.revoked_at.is_(None)
            )
        )
        if exists is not None:
            raise RuleViolation(_l("この第三者はすでに承諾済みです。"))
        revoked = db.session.scalar(
            select(ThirdParty).where(ThirdParty.organization_id == org.id, ThirdParty.name == name)
        )
        if revoked is not None:
            revoked.revoked_at = None
            revoked.note = note.strip()
            revoked.approved_on = today_in_tokyo()
            revoked.approved_by_id = by.id
            party = revoked
        else:
            party = ThirdParty(
                organization_id=org.id, name=name, note=note.strip(), approved_on=today_in_tokyo(), approved_by_id=by.id
            )
            db.session.add(party)
        db.session.flush()
        audit.record("third_party.approved", target=party, name=name)
    return party


def revoke(party: ThirdParty, by: User) -> int:
    """End the approval; its learners no longer belong to it. Returns how many were unmarked."""
    if party.revoked_at is not None:
        raise RuleViolation(_l("この第三者の承諾はすでに取り消されています。"))
    with unscoped("the operator acts on any organization"):
        party.revoked_at = utcnow()
        result = db.session.execute(delete(ThirdPartyMember).where(ThirdPartyMember.third_party_id == party.id))
        audit.record("third_party.revoked", target=party, name=party.name, members_unmarked=result.rowcount)
        db.session.flush()
    return result.rowcount


def approved(org: Organization) -> list[ThirdParty]:
    with unscoped("filtered by the organization's id in the statement"):
        return list(
            db.session.scalars(
                select(ThirdParty)
                .where(ThirdParty.organization_id == org.id, ThirdParty.revoked_at.is_(None))
                .order_by(ThirdParty.name)
            )
        )


def all_for(org: Organization) -> list[ThirdParty]:
    with unscoped("filtered by the organization's id in the statement"):
        return list(
            db.session.scalars(select(ThirdParty).where(ThirdParty.organization_id == org.id).order_by(ThirdParty.name))
        )


def members(org: Organization) -> list[ThirdPartyMember]:
    with unscoped("filtered by the organization's id in the statement"):
        return list(
            db.session.scalars(
                select(ThirdPartyMember)
                .where(ThirdPartyMember.organization_id == org.id)
                .order_by(ThirdPartyMember.third_party_id, ThirdPartyMember.id)
            )
        )


def mark_learner(learner: User, third_party_id: int | None, by: User) -> ThirdPartyMember | None:
    """Mark ``learner`` as belonging to an approved third party, or to none (``None``).

    :raises RuleViolation: not a learner of the organization, or the third party is not approved.
    """
    if learner.role != Role.LEARNER:
        raise RuleViolation(_l("第三者に所属させられるのは受講者だけです。"))
    with unscoped("the learner's membership, by the learner's id"):
        current = db.session.scalar(select(ThirdPartyMember).where(ThirdPartyMember.user_id == learner.id))
        if third_party_id is None:
            if current is not None:
                db.session.delete(current)
                audit.record("third_party.member_removed", target=learner, third_party=current.third_party_id)
            db.session.flush()
            return None
        party = db.session.scalar(
            select(ThirdParty).where(
                ThirdParty.id == third_party_id,
                ThirdParty.organization_id == learner.organization_id,
                ThirdParty.revoked_at.is_(None),
            )
        )
        if party is None:
            raise RuleViolation(NOT_APPROVED)
        if current is None:
            current = ThirdPartyMember(organization_id=learner.organization_id, user_id=learner.id)
            db.session.add(current)
        current.third_party_id = party.id
        db.session.flush()
        audit.record("third_party.member_marked", target=learner, third_party=party.id, name=party.name)
    return current
