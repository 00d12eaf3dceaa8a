"""The end of an organization (Art. 15, 16, 19): request, receipt, cancellation, export, deletion.

* The administrator requests termination with a date; once the operator has received it, the
  organization ends on that date (a periodic job sets it to terminated).
* The operator may cancel the contract at once for one of the grounds of Art. 16 (or 19, 24).
* An ended organization's administrators can only export (a zip of CSV files, :mod:`portal.data_export`)
  for the retention period (``DATA_RETENTION_DAYS``); then the job deletes its personal data and keeps a
  :class:`DeletionRecord`. Deleting everything at once takes two operators (portal/deletion.py).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import Table, select

from portal import audit, inbox
from portal.clock import today_in_tokyo, utcnow
from portal.cure_notices import expired_uncured
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.jobs import periodic
from portal.models import DeletionRecord, Organization, OrganizationStatus, Termination, User
from portal.organizations import change_status, mail_primary_admin
from portal.rules import RuleViolation
from portal.tenancy import unscoped

CANCELLATION_GROUNDS = {
    "16-1-1": _l("手形または小切手の不渡り(第16条第1項第1号)"),
    "16-1-2": _l("差押・仮差押・仮処分・強制執行・滞納処分の申立て(第16条第1項第2号)"),
    "16-1-3": _l("破産・民事再生・会社更生・特別清算の申立て(第16条第1項第3号)"),
    "16-1-4": _l("信用状態の著しい悪化(第16条第1項第4号)"),
    "16-1-5": _l("解散・営業の譲渡・営業停止(第16条第1項第5号)"),
    "16-2-1": _l("利用料金その他の債務の支払いの遅延・不履行(第16条第2項第1号)"),
    "16-2-2": _l("申込内容等の虚偽記入・隠蔽(第16条第2項第2号)"),
    "16-2-3": _l("過去の不正使用による解除・利用停止の判明(第16条第2項第3号)"),
    "16-2-4": _l("本サービスと競合する製品・サービスの提供(第16条第2項第4号)"),
    "16-2-5": _l("第三者への無断での利用(第16条第2項第5号)"),
    "16-2-6": _l("本規約への重大な違反・当社の信用の毀損(第16条第2項第6号)"),
    "16-3": _l("催告期間(14日)内に是正されない規約違反(第16条第3項)"),
    "19-1": _l("著作権・禁止行為に関する違反(第19条第1項)"),
    "24-3": _l("反社会的勢力に該当(第24条第3項)"),
}
# Kept after personal data is deleted: the contract, invoices (tax records), the registered corporate
# address, the status history, seat counts and the termination itself.
KEPT_AFTER_RETENTION = frozenset(
    {
        "contracts",
        "invoices",
        "credit_notes",
        "organization_profiles",
        "organization_status_changes",
        "seat_usage",
        "terminations",
        "notice_targets",
    }
)
# Never deleted with an organization: the record of what was deleted, and the four-eyes requests.
NEVER_DELETED = frozenset({"deletion_records", "deletion_requests"})
# Kept when everything else of an organization is deleted at the operator's request: issued invoices are tax
# records the operator keeps for 7 years (with the organization's row they belong to).
KEPT_AFTER_PURGE = frozenset({"invoices", "credit_notes"})


def get_termination(org: Organization) -> Termination | None:
    with unscoped("filtered by the organization's id in the statement"):
        return db.session.scalar(select(Termination).where(Termination.organization_id == org.id))


def request_termination(org: Organization, end_on: date, reason: str, by: User) -> Termination:
    """The customer's request to end the service (Art. 15). :raises RuleViolation:"""
    if end_on < today_in_tokyo():
        raise RuleViolation(_l("終了日は今日以降の日付にしてください。"))
    if org.status == OrganizationStatus.TERMINATED:
        raise RuleViolation(_l("ご契約はすでに終了しています。"))
    if get_termination(org) is not None:
        raise RuleViolation(_l("利用終了の申し入れはすでに受け付けています。"))
    termination = Termination(
        organization_id=org.id, kind="customer", end_on=end_on, reason=reason.strip(), requested_by_id=by.id
    )
    db.session.add(termination)
    db.session.flush()
    audit.record("org.termination_requested", target=termination, end_on=end_on.isoformat())
    # Art. 15: the request takes effect only once the operator receives it, so the operator must be told.
    inbox.open_item(
        "termination",
        str(termination.id),
        subject_type="Termination",
        subject_id=termination.id,
        organization_id=org.id,
        summary=f"{org.name} ({end_on.isoformat()})",
    )
    return termination


def receive_termination(termination: Termination, by: User) -> Termination:
    """The operator's receipt, which makes the request effective (Art. 15). :raises RuleViolation:"""
    if termination.received_at is not None:
        raise RuleViolation(_l("この申し入れはすでに受領済みです。"))
    with unscoped("the operator acts on any organization"):
        termination.received_at = utcnow()
        termination.received_by_id = by.id
        org = db.session.get(Organization, termination.organization_id)
        audit.record("org.termination_received", target=termination, end_on=termination.end_on.isoformat())
        mail_primary_admin(
            org,
            "termination_received",
            f"termination_received:{termination.id}",
            termination=termination,
            retention_days=current_app.config["DATA_RETENTION_DAYS"],
        )
        db.session.flush()
    return termination


def cancel_contract(org: Organization, ground: str, note: str, by: User) -> Termination:
    """The operator ends the contract now for one of the listed grounds. :raises RuleViolation:"""
    if ground not in CANCELLATION_GROUNDS:
        raise RuleViolation(_l("解除の理由を選んでください。"))
    if org.status == OrganizationStatus.TERMINATED:
        raise RuleViolation(_l("組織はすでにその状態です。"))
    if ground == "16-3" and expired_uncured(org) is None:
        raise RuleViolation(
            _l("第16条第3項による解除は、催告の是正期限(14日)が過ぎても是正されていない場合にだけできます。")
        )
    reason = f"{CANCELLATION_GROUNDS[ground]} {note.strip()}".strip()
    today = today_in_tokyo()
    with unscoped("the operator acts on any organization"):
        termination = get_termination(org)
        if termination is None:
            termination = Termination(organization_id=org.id, kind="operator", requested_by_id=by.id, end_on=today)
            db.session.add(termination)
        termination.kind = "operator"
        termination.end_on = today
        termination.reason = reason
        termination.received_at = utcnow()
        termination.received_by_id = by.id
        db.session.flush()
        audit.record("org.contract_cancelled", target=termination, ground=ground, reason=reason)
        change_status(org, OrganizationStatus.TERMINATED, reason, by)
    return termination


def retention_ends_on(termination: Termination) -> date:
    return termination.end_on + timedelta(days=int(current_app.config["DATA_RETENTION_DAYS"]))


# --- export and deletion ----------------------------------------------------------------------


def tenant_tables() -> list[Table]:
    """Every table holding an organization's rows, parents before children."""
    return [t for t in db.metadata.sorted_tables if "organization_id" in t.c]


def delete_organization_data(org: Organization, scope: str, by: User | None, reason: str = "") -> DeletionRecord:
    """Delete the personal data ("personal") or everything ("all") of ``org``; keep a record of it.

    "all" keeps the issued invoices and the organization's row they belong to (tax records); neither scope
    touches earlier deletion records or requests. Four-eyes rules for "all": portal/deletion.py.
    """
    counts: dict[str, int] = {}
    org_id, name = org.id, org.name
    kept = NEVER_DELETED | (KEPT_AFTER_RETENTION if scope == "personal" else KEPT_AFTER_PURGE)
    with unscoped("deletes one organization's rows table by table"):
        for table in reversed(tenant_tables()):
            if table.name in kept:
                continue
            result = db.session.execute(table.delete().where(table.c.organization_id == org_id))
            if result.rowcount:
                counts[table.name] = result.rowcount
        record = DeletionRecord(
            organization_id=org_id,
            organization_name=name,
            scope=scope,
            reason=reason,
            deleted_by_id=by.id if by else None,
            counts=counts,
        )
        db.session.add(record)
        db.session.flush()
        audit.record(
            "org.data_deleted",
            target_type="Organization",
            target_id=org_id,
            organization_id=org_id if scope == "personal" else None,
            actor=by,
            scope=scope,
            # The name stays only on the deletion record (deletion_records), not copied here.
            deletion_record=record.id,
            counts=counts,
        )
        db.session.flush()
    return record


@periodic("termination.apply", every=timedelta(hours=1))
def apply_terminations(now: datetime) -> None:
    """End organizations whose received termination date has passed; delete after the retention period."""
    today = today_in_tokyo(now)
    # The worker has no request to choose a language from; reasons are stored in the default one.
    with unscoped("a worker job covers every organization"), force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        due = db.session.scalars(
            select(Termination).where(Termination.received_at.is_not(None), Termination.end_on < today)
        ).all()
        for termination in due:
            org = db.session.get(Organization, termination.organization_id)
            if org.status != OrganizationStatus.TERMINATED:
                reason = str(_l("利用終了の申し入れによる終了(第15条)"))
                change_status(org, OrganizationStatus.TERMINATED, reason, None)
            already = db.session.scalar(
                select(DeletionRecord.id).where(
                    DeletionRecord.organization_id == org.id, DeletionRecord.scope == "personal"
                )
            )
            if already is None and retention_ends_on(termination) < today:
                delete_organization_data(org, "personal", None, reason=str(_l("保存期間の満了")))
