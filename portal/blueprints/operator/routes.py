from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from portal import (
    contracts,
    cure_notices,
    deletion,
    inbox,
    invoicing,
    mfa,
    notices,
    organization_page,
    staff_alerts,
    staff_training,
)
from portal.accounts import find_user_by_email
from portal.accounts import signed_in_user as _me
from portal.audit_log import AuditFilterForm, TargetLabels, audit_page
from portal.blueprints.operator import bp, services
from portal.blueprints.operator.forms import (
    HandleItemForm,
    InboxFilterForm,
    MfaResetForm,
    UserLookupForm,
)
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.forms import AdminMfaPolicyForm, EmptyForm
from portal.models import (
    Contract,
    InboxItem,
    Organization,
    User,
)
from portal.organizations import STATUS_LABELS, organizations_query, status_counts
from portal.pagination import requested_page
from portal.violations import form_status, rule_violations_shown


def get_org_or_404(org_id: int) -> Organization:
    return db.get_or_404(Organization, org_id)


def get_contract(org: Organization) -> Contract | None:
    """The contract in force (the latest started), else the first to come."""
    return contracts.current_contract(org.id)


@bp.get("/")
def home():
    over_limit = db.session.execute(organizations_query(over_limit=True).limit(20)).all()
    overdue = db.session.scalars(invoicing.overdue_invoices_query().limit(20)).all()
    return render_template(
        "operator/home.html",
        open_incidents=notices.open_incidents(),
        dead_emails=services.dead_emails_since(utcnow() - timedelta(hours=24)),
        failed_staff_alerts=staff_alerts.failed_staff_alerts(utcnow() - timedelta(days=7)),
        staff_address_problems=staff_alerts.address_problems(current_app.config),
        staff_address_labels=staff_alerts.STAFF_ADDRESSES,
        pending_deletions=deletion.pending_requests(),
        inbox_counts=inbox.open_counts(),
        inbox_kinds=inbox.KINDS,
        expired_cure_notices=cure_notices.expired_notices(),
        counts=status_counts(),
        over_limit=over_limit,
        overdue=overdue,
        labels=STATUS_LABELS,
        today=today_in_tokyo(),
        action_form=EmptyForm(),
    )


# --- the inbox: what waits on staff (portal/inbox.py) --------------------------------------------


def get_inbox_item_or_404(item_id: int) -> InboxItem:
    return db.get_or_404(InboxItem, item_id)


@bp.get("/inbox")
def inbox_list():
    form = InboxFilterForm(request.args, meta={"csrf": False})
    if not form.validate():
        form.kind.data, form.state.data = "", "open"
    stmt = inbox.items_query(form.kind.data or "", form.state.data or "open").options(joinedload(InboxItem.handled_by))
    page = db.paginate(stmt, page=requested_page(), per_page=25, error_out=False)
    return render_template(
        "operator/inbox.html",
        form=form,
        page=page,
        counts=inbox.open_counts(),
        kinds=inbox.KINDS,
        link=inbox.subject_link,
    )


@bp.get("/inbox/<int:item_id>")
def inbox_item(item_id: int):
    return _inbox_item(get_inbox_item_or_404(item_id), HandleItemForm())


def _inbox_item(item: InboxItem, form: HandleItemForm, code: int = 200):
    page = render_template(
        "operator/inbox_item.html", item=item, form=form, kinds=inbox.KINDS, link=inbox.subject_link(item)
    )
    return page, code


@bp.post("/inbox/<int:item_id>/handle")
def inbox_handle(item_id: int):
    item = get_inbox_item_or_404(item_id)
    form = HandleItemForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            inbox.handle_item(item, _me(), form.note.data or "")
            flash(_("対応済みにしました。"), "success")
            return redirect(url_for("operator.inbox_list"), 303)
    return _inbox_item(item, form, form_status(form))


@bp.get("/audit")
def audit_log():
    form = AuditFilterForm(request.args, meta={"csrf": False}, with_organization=True)
    page = audit_page(form, requested_page())
    return render_template("operator/audit.html", form=form, page=page, targets=TargetLabels(page.items))






# --- the operator's staff take セキュトレ (Art. 4-2) ----------------------------------------------


@bp.get("/staff-training")
def staff_training_list():
    org = staff_training.staff_organization()
    courses = staff_training.current_editions()
    return render_template(
        "operator/staff_training.html",
        org=org,
        courses=courses,
        staff=staff_training.staff_completion(org, courses),
    )


# --- an organization's two-factor policy: its section of the organization's page (portal/organization_page.py)


@organization_page.section
def _mfa_policy_section(org: Organization) -> dict:
    """Whether the organization's administrators must use two-factor sign-in, and the form to change it."""
    return {"mfa_form": AdminMfaPolicyForm(required=org.admins_require_mfa)}


@bp.post("/organizations/<int:org_id>/two-factor-policy")
def organization_mfa_policy(org_id: int):
    """Whether the organization's administrators must use two-factor sign-in (#10)."""
    org = get_org_or_404(org_id)
    form = AdminMfaPolicyForm()
    if form.validate_on_submit():
        mfa.set_admin_mfa_policy(org, bool(form.required.data))
        flash(_("2段階認証の設定を保存しました。"), "success")
    return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)


# --- a lost second factor (#10) ----------------------------------------------------------------------


@bp.get("/users/two-factor")
def user_mfa_lookup():
    """Find a user by email address to reset their second factor."""
    form = UserLookupForm(request.args)
    not_found = False
    if form.validate() and form.email.data:
        user = find_user_by_email(form.email.data)
        if user is not None:
            return redirect(url_for("operator.user_mfa_reset", user_id=user.id), 303)
        not_found = True
    return render_template("operator/user_mfa_lookup.html", form=form, not_found=not_found)


@bp.route("/users/<int:user_id>/two-factor", methods=["GET", "POST"])
def user_mfa_reset(user_id: int):
    """Reset the second factor of a user who lost both their authenticator and their recovery codes."""
    user = db.get_or_404(User, user_id)
    form = MfaResetForm()
    status = 200
    if form.validate_on_submit():
        with rule_violations_shown(catch=mfa.MfaResetRefused):
            mfa.reset_mfa_by_staff(user, by=_me(), reason=form.reason.data)
            flash(
                _("2段階認証をリセットしました。本人にメールで知らせ、次のログインで設定し直すよう求めます。"),
                "success",
            )
            return redirect(url_for("operator.user_mfa_reset", user_id=user.id), 303)
        status = 409
    elif form.is_submitted():
        status = 422
    return render_template("operator/user_mfa_reset.html", user=user, form=form), status
