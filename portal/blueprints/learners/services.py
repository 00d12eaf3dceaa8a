"""Learners and departments: the business rules. Services write, audit, queue email and flush.

Managers see and act on the learners of their departments (and of the sub-departments below them)
only; :func:`scope_learners` is the one place that narrows a learner query for them. An object
outside the manager's reach answers 404, exactly like another organization's object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import Select, delete, func, or_, select

from portal import audit, invitations, item_counts
from portal.accounts import ADDRESS_UNAVAILABLE, email_taken, login_id_key, login_id_taken, normalize_email
from portal.clock import TOKYO
from portal.departments import DepartmentTree, managed_department_ids, scope_learners, visible_department_ids
from portal.exports import TextCell
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.learner_record import ActionEntry, LearnerRecord
from portal.models import (
    MAX_DEPARTMENT_DEPTH,
    Department,
    ManagerDepartment,
    Organization,
    Role,
    User,
)
from portal.outbox import external_url
from portal.passwords import hash_password
from portal.rules import NotFound
from portal.seats import SeatCheck, record_seat_usage, seat_check
from portal.tenancy import unscoped


class LearnerRuleError(Exception):
    """A business rule refused the change; ``message`` is for the user, ``field`` the form field."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.field = field


# --- seats (#4) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatEffect:
    """What adding learners does to the contract's seats. Going over is allowed (Art. 3-2): the
    administrator is told beforehand how many seats over and the estimated overage charge."""

    check: SeatCheck
    allowed: bool = True

    @property
    def message(self) -> str | None:
        check = self.check
        if check.limit is None or check.newly_over == 0:
            return None
        return str(
            _l(
                "この登録で上限利用者数(%(limit)d名)を%(over)d名超えます(登録後 %(after)d名)。"
                "超過分は利用料金の差額として、1名あたり%(price)s円(税抜)、概算 %(charge)s円(税抜)のご請求になります。",
                limit=check.limit,
                over=check.over,
                after=check.after,
                price=f"{check.unit_price:,}",
                charge=f"{check.estimated_charge:,}",
            )
        )


def seat_effect(org_id: int, adding: int) -> SeatEffect | None:
    """What adding ``adding`` learners to organization ``org_id`` does to its seats; None when there
    is nothing to tell (no contract, or still within the limit)."""
    organization = db.session.get(Organization, org_id)
    if organization is None or adding <= 0:
        return None
    effect = SeatEffect(seat_check(organization, adding))
    return effect if effect.message else None


def _refuse_when_no_seats(org_id: int, adding: int):
    effect = seat_effect(org_id, adding)
    if effect is not None and not getattr(effect, "allowed", True):
        raise LearnerRuleError(getattr(effect, "message", _l("契約の席数を超えるため、登録できません。")))
    return effect


# --- departments ------------------------------------------------------------------------------


def get_learner(learner_id: int, user: User) -> User:
    """The learner ``learner_id`` if ``user`` may act on them. :raises NotFound: otherwise (never reveal it exists)."""
    learner = db.session.scalar(scope_learners(select(User).where(User.id == learner_id), user))
    if learner is None:
        raise NotFound
    return learner


def get_department(department_id: int) -> Department:
    """A department of the current organization. :raises NotFound: unknown, or another organization's."""
    department = db.session.scalar(select(Department).where(Department.id == department_id))
    if department is None:
        raise NotFound
    return department


def _sibling_exists(name: str, parent_id: int | None, exclude_id: int | None = None) -> bool:
    stmt = select(Department.id).where(Department.name == name)
    stmt = stmt.where(Department.parent_id.is_(None) if parent_id is None else Department.parent_id == parent_id)
    if exclude_id is not None:
        stmt = stmt.where(Department.id != exclude_id)
    return db.session.scalar(stmt) is not None


def create_department(name: str, parent: Department | None) -> Department:
    """Add a department under ``parent`` (or at the top).

    :raises LearnerRuleError: deeper than three levels, or a sibling with the same name exists.
    """
    name = name.strip()
    depth = 1 if parent is None else parent.depth + 1
    if depth > MAX_DEPARTMENT_DEPTH:
        raise LearnerRuleError(
            _l("部署は%(n)d階層までです。この部署の下には作成できません。", n=MAX_DEPARTMENT_DEPTH), "parent_id"
        )
    if _sibling_exists(name, parent.id if parent else None):
        raise LearnerRuleError(_l("同じ階層に同じ名前の部署があります。"), "name")
    department = Department(name=name, parent_id=parent.id if parent else None, depth=depth)
    db.session.add(department)
    db.session.flush()
    audit.record("departments.created", target=department, name=name, parent_id=department.parent_id)
    return department


def rename_department(department: Department, name: str) -> None:
    """:raises LearnerRuleError: a sibling already has this name."""
    name = name.strip()
    if name == department.name:
        return
    if _sibling_exists(name, department.parent_id, exclude_id=department.id):
        raise LearnerRuleError(_l("同じ階層に同じ名前の部署があります。"), "name")
    audit.record("departments.renamed", target=department, old=department.name, new=name)
    department.name = name
    db.session.flush()


def delete_department(department: Department) -> None:
    """:raises LearnerRuleError: the department still has learners or sub-departments."""
    learners = db.session.scalar(select(func.count(User.id)).where(User.department_id == department.id))
    if learners:
        raise LearnerRuleError(
            _l(
                "この部署には受講者が%(n)d人所属しているため削除できません。先に受講者の部署を変更してください。",
                n=learners,
            )
        )
    if db.session.scalar(select(Department.id).where(Department.parent_id == department.id)) is not None:
        raise LearnerRuleError(_l("下位の部署があるため削除できません。先に下位の部署を削除してください。"))
    audit.record("departments.deleted", target=department, name=department.name)
    db.session.execute(delete(ManagerDepartment).where(ManagerDepartment.department_id == department.id))
    db.session.delete(department)
    db.session.flush()


def organization_managers() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == Role.MANAGER).order_by(User.name, User.id)))


def department_manager_ids(department: Department) -> set[int]:
    return set(
        db.session.scalars(
            select(ManagerDepartment.user_id).where(ManagerDepartment.department_id == department.id)
        )
    )


def set_department_managers(department: Department, manager_ids: Iterable[int]) -> None:
    """Make exactly these managers (of this organization) responsible for ``department``."""
    wanted = {m.id for m in organization_managers() if m.id in set(manager_ids)}
    current = department_manager_ids(department)
    if wanted == current:
        return
    db.session.execute(
        delete(ManagerDepartment).where(
            ManagerDepartment.department_id == department.id, ManagerDepartment.user_id.in_(current - wanted)
        )
    )
    for user_id in wanted - current:
        db.session.add(ManagerDepartment(user_id=user_id, department_id=department.id))
    audit.record("departments.managers_set", target=department, managers=sorted(wanted))
    db.session.flush()


# --- learners ---------------------------------------------------------------------------------


def _check_unique(login_id: str, email: str | None, exclude_id: int | None = None) -> None:
    if login_id_taken(login_id, exclude_id):
        raise LearnerRuleError(_l("この受講者IDはすでに使われています。"), "login_id")
    if email and email_taken(email, exclude_id):
        raise LearnerRuleError(ADDRESS_UNAVAILABLE, "email")


def _check_department(department_id: int | None, by: User) -> None:
    if department_id is None:
        if by.role == Role.MANAGER:
            raise LearnerRuleError(_l("担当する部署を選んでください。"), "department_id")
        return
    if department_id not in visible_department_ids(by, DepartmentTree.load()):
        raise LearnerRuleError(_l("この部署は選べません。"), "department_id")


LEARNER_FIELDS = ("login_id", "name", "email", "department_id", "employment_type")


def create_learner(data: dict, *, by: User) -> User:
    """Register a learner from ``data`` (the fields of :data:`LEARNER_FIELDS`, ``initial_password``).

    With an initial password the learner must change it at first sign-in.
    :raises LearnerRuleError: ID or email already used, a department outside ``by``'s reach, no seat.
    """
    login_id = data["login_id"]
    email = normalize_email(data.get("email")) or None
    _check_unique(login_id, email)
    _check_department(data.get("department_id"), by)
    _refuse_when_no_seats(by.organization_id, 1)
    learner = User(
        role=Role.LEARNER,
        organization_id=by.organization_id,
        login_id=login_id,
        name=data.get("name") or "",
        email=email,
        department_id=data.get("department_id"),
        employment_type=data.get("employment_type") or None,
    )
    if data.get("initial_password"):
        learner.password_hash = hash_password(data["initial_password"])
        learner.must_change_password = True
    db.session.add(learner)
    db.session.flush()
    audit.record("learners.created", target=learner, login_id=login_id)
    record_seat_usage(learner.organization_id)
    return learner


def update_learner(learner: User, data: dict, *, by: User) -> None:
    """:raises LearnerRuleError: as :func:`create_learner`."""
    email = normalize_email(data.get("email")) or None
    _check_unique(data["login_id"], email, exclude_id=learner.id)
    _check_department(data.get("department_id"), by)
    changes = {}
    new_values = {
        "login_id": data["login_id"],
        "name": data.get("name") or "",
        "email": email,
        "department_id": data.get("department_id"),
        "employment_type": data.get("employment_type") or None,
    }
    for key, value in new_values.items():
        if getattr(learner, key) != value:
            changes[key] = True
            setattr(learner, key, value)
    if changes:
        audit.record("learners.updated", target=learner, fields=sorted(changes))
    db.session.flush()


def set_active(learner: User, active: bool) -> None:
    """Deactivate (which also ends their sessions) or reactivate a learner."""
    if learner.is_active_flag == active:
        return
    learner.is_active_flag = active
    if not active:
        learner.end_all_sessions()
    audit.record("learners.reactivated" if active else "learners.deactivated", target=learner)
    db.session.flush()
    if active:
        record_seat_usage(learner.organization_id)


def delete_learner(learner: User) -> None:
    """Delete the learner and every copy of their address: the email sent to them, and delivery state.

    The audit event names the learner by id only; it is what remains of them.
    """
    audit.record("learners.deleted", target=learner)
    forget_mail_to(learner)
    item_counts.forget_learner(learner.id)  # the database deletes their attempts with them
    db.session.delete(learner)
    db.session.flush()


def forget_mail_to(user: User) -> None:
    """Delete the emails sent to ``user`` and the delivery state of their address (personal data)."""
    from portal.models import MailAddressFailures, MailSuppression, OutboxMessage

    with unscoped("an address's suppression and failures belong to no organization"):
        sent_to_them = OutboxMessage.user_id == user.id
        if user.email:
            sent_to_them = or_(sent_to_them, OutboxMessage.to_address == user.email)
            db.session.execute(delete(MailAddressFailures).where(MailAddressFailures.address == user.email))
            db.session.execute(delete(MailSuppression).where(MailSuppression.address == user.email))
        db.session.execute(delete(OutboxMessage).where(sent_to_them), execution_options={"synchronize_session": False})


def set_initial_password(learner: User, password: str) -> None:
    """An administrator sets a new initial password: it must be changed at next sign-in; sessions end."""
    learner.password_hash = hash_password(password)
    learner.must_change_password = True
    learner.end_all_sessions()
    audit.record("learners.password_reset", target=learner)
    db.session.flush()


def end_sessions(learner: User) -> None:
    learner.end_all_sessions()
    audit.record("learners.sessions_ended", target=learner)
    db.session.flush()


def send_invitation(learner: User, organization: Organization, *, by: User | None) -> None:
    """Email ``learner`` a personal link to set their password; ``by`` is the administrator who asked.

    :raises LearnerRuleError: the learner has no email address or is inactive.
    """
    if not learner.email:
        raise LearnerRuleError(_l("メールアドレスが登録されていないため、招待メールを送れません。"))
    if not learner.is_active_flag:
        raise LearnerRuleError(_l("無効の受講者には招待メールを送れません。"))
    invitations.send_invitation(
        learner,
        invited_by=by,
        organization_name=organization.name,
        template="invitation_learner",
        organization=organization,
        login_url=external_url("auth.org_login", code=organization.code),
    )


def set_magic_link_sign_in(organization: Organization, enabled: bool) -> None:
    if organization.magic_link_sign_in == enabled:
        return
    organization.magic_link_sign_in = enabled
    audit.record("organization.magic_link_sign_in", target=organization, enabled=enabled)
    db.session.flush()


def learner_list_query(user: User, tree: DepartmentTree, *, q: str = "", department_id: int | None = None,
                       employment_type: str | None = None, status: str = "active") -> Select:
    """The learners ``user`` may see, filtered, in a stable order."""
    stmt = scope_learners(select(User), user, tree)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(
            or_(
                func.lower(User.login_id).startswith(login_id_key(q), autoescape=True),
                User.name.contains(q, autoescape=True),
                User.email.contains(q.lower(), autoescape=True),
            )
        )
    if department_id:
        stmt = stmt.where(User.department_id.in_(tree.with_descendants([department_id])))
    if employment_type:
        stmt = stmt.where(User.employment_type == employment_type)
    if status == "active":
        stmt = stmt.where(User.is_active_flag.is_(True))
    elif status == "inactive":
        stmt = stmt.where(User.is_active_flag.is_(False))
    return stmt.order_by(func.lower(User.login_id), User.id)


# --- third parties (Art. 14) --------------------------------------------------------------------


def approved_third_parties(organization: Organization) -> list:
    from portal import third_parties

    return third_parties.approved(organization)


def third_party_of(learner: User):
    """The approved third party ``learner`` belongs to, or None."""
    from portal.models import ThirdPartyMember

    member = db.session.scalar(select(ThirdPartyMember).where(ThirdPartyMember.user_id == learner.id))
    return member.third_party if member else None


def third_party_names() -> dict[int, str]:
    """Learner id -> third party name for the organization in scope, in one query (exports)."""
    from portal.models import ThirdParty, ThirdPartyMember

    rows = db.session.execute(
        select(ThirdPartyMember.user_id, ThirdParty.name).join(
            ThirdParty, ThirdParty.id == ThirdPartyMember.third_party_id
        )
    )
    return dict(rows.all())


def set_third_party(learner: User, third_party_id: int | None, by: User) -> None:
    """Through the back office's rule: only a third party the operator approved. :raises LearnerRuleError:"""
    from portal import third_parties

    current = third_party_of(learner)
    if (current.id if current else None) == third_party_id:
        return
    try:
        third_parties.mark_learner(learner, third_party_id, by)
    except third_parties.RuleViolation as err:
        raise LearnerRuleError(err.args[0] if err.args else str(err), field="third_party_id") from err


# --- the learner's record (研修・点検の記録) ------------------------------------------------------------

RECORD_HEADER = ("受講者ID", "氏名", "種別", "時期", "名称", "講座・点検項目", "分類", "状態", "受験回数", "最高点",
                 "期限", "完了日時", "修了証コード", "回答", "コメント", "担当者")


def openable_action_ids(actions: Iterable[ActionEntry], user: User) -> set[int]:
    """The record's corrective actions whose page ``user`` may open, so that the record links only those.

    The follow-up pages' rule: an administrator opens every action, a manager the ones they own and the
    ones of the departments they look after (the learner may have answered in another department).
    """
    if user.role == Role.ORG_ADMIN:
        return {a.id for a in actions}
    departments = managed_department_ids(user)
    return {a.id for a in actions if a.owner_id == user.id or a.department_id in departments}


def _tokyo(moment, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(TOKYO).strftime(fmt) if moment else ""


def record_rows(record: LearnerRecord) -> list[list]:
    """The record as rows of :data:`RECORD_HEADER`: one per delivery, one per いいえ answer (or one per sheet
    without any), one per corrective action."""
    learner = record.learner
    who = [TextCell(learner.login_id or ""), learner.name]
    training, inspection, follow_up, no = _("研修"), _("点検"), _("是正処置"), _("いいえ")
    rows: list[list] = []
    for t in record.training:
        edition = _("%(year)d年度版", year=t.fiscal_year)
        rows.append([*who, training, _tokyo(t.starts_at, "%Y-%m-%d"), t.delivery_title,
                     f"{t.course_title}（{edition}）", "", t.status_label,
                     t.attempts, "" if t.best_score is None else t.best_score, _tokyo(t.due_at), _tokyo(t.passed_at),
                     t.certificate_code or "", "", "", ""])
    for m in record.inspections:
        sheet = [*who, inspection, m.month.strftime("%Y-%m"), m.round_title]
        times = [_tokyo(m.due_at), _tokyo(m.submitted_at), ""]
        if not m.no_answers:
            rows.append([*sheet, "", "", m.status_label, "", "", *times, "", "", ""])
        for a in m.no_answers:
            rows.append([*sheet, a.item_text, a.category, m.status_label, "", "", *times, no, a.comment, ""])
    for a in record.actions:
        rows.append([*who, follow_up, a.month.strftime("%Y-%m"), a.title, a.item_text, a.category, a.status_label,
                     "", "", a.due_on.isoformat() if a.due_on else "", _tokyo(a.closed_at), "", "", "",
                     a.owner_name or ""])
    return rows


def list_exported(fmt: str, filters: dict) -> None:
    """Write down that the learners list (names and addresses) left the portal as a file, with its filters."""
    audit.record("learners.list_exported", target_type="organization", format=fmt,
                 **{key: value for key, value in filters.items() if value not in (None, "", 0)})


def record_exported(learner: User, fmt: str) -> None:
    """Write down that ``learner``'s record (personal data) left the portal as a file."""
    audit.record("learners.record_exported", target=learner, format=fmt)
