"""Deleting all of an organization's data at the operator's request, with guard rails (Art. 16, 19).

* Only an organization whose contract has ended (terminated or cancelled), or for a ground of the terms
  (Art. 16 cancellation grounds, Art. 19-1 breach of Art. 17/18) with the facts typed in.
* Four eyes: one operator requests, a different operator approves; the requester cannot approve, and a
  pending request can be withdrawn. The organization's name is typed at both steps.
* At approval everything goes except the issued invoices (tax records the operator keeps for 7 years), the
  organization's row they belong to, and the deletion records and requests themselves; the customer's
  administrators are emailed (queued outside the organization, so that the deletion does not take it).
* Every step, and every refusal, is audited outside the organization (its own audit log is deleted).

The functions validate, write, audit and queue email, then flush; the request commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from portal import audit, termination
from portal.clock import utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import (
    DeletionRecord,
    DeletionRequest,
    DeletionRequestStatus,
    Organization,
    OrganizationStatus,
    Role,
    User,
)
from portal.outbox import queue_email
from portal.rules import RuleViolation
from portal.tenancy import unscoped

ENDED = "ended"


def grounds() -> dict[str, str]:
    """The terms' list: a contract that is over, or a ground of Art. 16 (cancellation) or 19 (deletion right)."""
    listed = termination.CANCELLATION_GROUNDS.items()
    return {ENDED: _l("契約が終了・解除済み(第15条・第16条)")} | {
        key: label for key, label in listed if key.startswith(("16-", "19-"))
    }


def pending_request(org: Organization) -> DeletionRequest | None:
    return db.session.scalar(
        select(DeletionRequest).where(
            DeletionRequest.organization_id == org.id, DeletionRequest.status == DeletionRequestStatus.PENDING
        )
    )


def pending_requests() -> list[DeletionRequest]:
    """Requests waiting for a second operator, oldest first."""
    return list(
        db.session.scalars(
            select(DeletionRequest)
            .where(DeletionRequest.status == DeletionRequestStatus.PENDING)
            .order_by(DeletionRequest.requested_at, DeletionRequest.id)
        )
    )


def data_deleted(org: Organization) -> DeletionRecord | None:
    """The record of the deletion of everything, if it happened."""
    return db.session.scalar(
        select(DeletionRecord)
        .where(DeletionRecord.organization_id == org.id, DeletionRecord.scope == "all")
        .order_by(DeletionRecord.id.desc())
        .limit(1)
    )


def requests_by_record(record_ids: list[int]) -> dict[int, DeletionRequest]:
    if not record_ids:
        return {}
    rows = db.session.scalars(select(DeletionRequest).where(DeletionRequest.deletion_record_id.in_(record_ids)))
    return {r.deletion_record_id: r for r in rows}


def _check_ground(org: Organization, ground: str, note: str) -> None:
    if ground not in grounds():
        raise RuleViolation(_l("削除の理由を一覧から選んでください。削除の依頼は行っていません。"))
    if ground == ENDED and org.status != OrganizationStatus.TERMINATED:
        raise RuleViolation(
            _l(
                "この組織の契約は終了していません。契約中の組織は、利用規約第16条または第19条の理由を選び、"
                "事実関係を入力した場合だけ削除できます。"
            )
        )
    if ground != ENDED and not note.strip():
        raise RuleViolation(_l("第16条・第19条の理由で削除するときは、事実関係を入力してください。"))


def _check_name(org: Organization, typed_name: str) -> None:
    if (typed_name or "").strip() != org.name:
        raise RuleViolation(_l("確認のための法人名が一致しません。削除は行っていません。"))


def request_deletion(org: Organization, ground: str, note: str, typed_name: str, by: User) -> DeletionRequest:
    """The first operator asks for all of ``org``'s data to be deleted. Nothing is deleted yet.

    :raises RuleViolation: the name does not match, no ground of the list, an active organization with
        the "ended" ground or without the facts, a request already pending, or the data already deleted.
    """
    _check_name(org, typed_name)
    _check_ground(org, ground, note)
    if data_deleted(org) is not None:
        raise RuleViolation(_l("この組織のデータはすでに削除されています。"))
    if pending_request(org) is not None:
        raise RuleViolation(_l("この組織にはすでに承認待ちの削除依頼があります。"))
    request = DeletionRequest(
        organization_id=org.id,
        organization_name=org.name,
        ground=ground,
        note=note.strip(),
        requested_by_id=by.id,
        requested_at=utcnow(),
    )
    db.session.add(request)
    db.session.flush()
    audit.record(
        "org.deletion_requested",
        target_type="Organization",
        target_id=org.id,
        organization_id=None,
        actor=by,
        deletion_request=request.id,
        ground=ground,
        org_status=org.status,
    )
    db.session.flush()
    return request


def withdraw_deletion(request: DeletionRequest, by: User) -> DeletionRequest:
    """Any operator may withdraw a pending request (the requester changing their mind, or a second
    operator declining it). :raises RuleViolation: it is no longer pending."""
    if request.status != DeletionRequestStatus.PENDING:
        raise RuleViolation(_l("この削除依頼はすでに処理されています。"))
    request.status = DeletionRequestStatus.WITHDRAWN
    request.decided_by_id = by.id
    request.decided_at = utcnow()
    audit.record(
        "org.deletion_withdrawn",
        target_type="Organization",
        target_id=request.organization_id,
        organization_id=None,
        actor=by,
        deletion_request=request.id,
        requested_by=request.requested_by_id,
    )
    db.session.flush()
    return request


@dataclass
class Approved:
    record: DeletionRecord
    administrators_told: int


def approve_deletion(request: DeletionRequest, org: Organization, typed_name: str, by: User) -> Approved:
    """A second operator approves: the data goes (invoices and deletion records stay) and the customer's
    administrators are emailed.

    :raises RuleViolation: not pending, the approver is the requester, the name does not match, or the
        ground no longer holds (an "ended" organization that was reactivated meanwhile).
    """
    if request.status != DeletionRequestStatus.PENDING:
        raise RuleViolation(_l("この削除依頼はすでに処理されています。"))
    if request.requested_by_id == by.id:
        raise RuleViolation(_l("削除を依頼した本人は承認できません。別の運営スタッフが承認してください。"))
    _check_name(org, typed_name)
    _check_ground(org, request.ground, request.note)
    reason = f"{grounds()[request.ground]} {request.note}".strip()
    with unscoped("the operator deletes any organization's data"):
        admins = [
            (u.id, u.email, u.locale)
            for u in db.session.scalars(
                select(User).where(
                    User.organization_id == org.id,
                    User.role == Role.ORG_ADMIN,
                    User.email.is_not(None),
                    User.is_active_flag.is_(True),
                )
            )
        ]
        record = termination.delete_organization_data(org, "all", by, reason=reason[:500])
        if org.status != OrganizationStatus.TERMINATED:
            org.status = OrganizationStatus.TERMINATED
        request.status = DeletionRequestStatus.APPROVED
        request.decided_by_id = by.id
        request.decided_at = utcnow()
        request.deletion_record_id = record.id
        audit.record(
            "org.deletion_approved",
            target_type="Organization",
            target_id=org.id,
            organization_id=None,
            actor=by,
            deletion_request=request.id,
            deletion_record=record.id,
            requested_by=request.requested_by_id,
            ground=request.ground,
            administrators_told=len(admins),
        )
        for user_id, email, locale in admins:
            # Not tied to the organization or the user: both rows are gone when the worker sends it. The
            # row (the address only, no name) stays as the proof that the customer was told.
            queue_email(
                "organization_data_deleted",
                email,
                idempotency_key=f"organization_data_deleted:{request.id}:{user_id}",
                locale=locale,
                organization_name=org.name,
                reason=grounds()[request.ground],
                deleted_at=request.decided_at,
            )
        db.session.flush()
    return Approved(record, len(admins))


def audit_refusal(org: Organization, step: str, error: RuleViolation, by: User) -> None:
    """Record a refused request, approval or withdrawal; the record outlives the request's rollback."""
    audit.record_denial(
        "org.deletion_refused",
        target_type="Organization",
        target_id=org.id,
        organization_id=None,
        actor=by,
        step=step,
        reason=str(error),
    )
