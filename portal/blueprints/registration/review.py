"""The operator's review of applications: the queue, the details with duplicate flags, approve, reject."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.blueprints.registration import review_bp as bp
from portal.blueprints.registration import services
from portal.blueprints.registration.forms import ApplicationFilterForm, ApprovalForm, RejectionForm, ScreeningForm
from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import Application, ApplicationStatus
from portal.pagination import paginate_rows, requested_page
from portal.violations import rule_violations_shown


def get_application_or_404(application_id: int) -> Application:
    # An id beyond the database's INTEGER never gets here: the ``int`` converter answers 404 (portal.ids).
    return db.get_or_404(Application, application_id)


@bp.get("/")
def index():
    filters = ApplicationFilterForm(request.args)
    filters.validate()
    page = paginate_rows(
        services.applications_query(filters.status.data or "", filters.q.data or ""),
        requested_page(),
    )
    return render_template(
        "registration/review_index.html",
        filters=filters,
        page=page,
        counts=services.status_counts(),
        labels=services.STATUS_LABELS,
    )


def _show(
    application: Application,
    approval: ApprovalForm,
    rejection: RejectionForm,
    code: int = 200,
    screening: ScreeningForm | None = None,
):
    if screening is None:
        screening = ScreeningForm(formdata=None, screened_on=today_in_tokyo())
    return (
        render_template(
            "registration/review_show.html",
            application=application,
            flags=services.duplicate_flags(application),
            approval=approval,
            rejection=rejection,
            screening=screening,
            screening_labels=services.SCREENING_LABELS,
            labels=services.STATUS_LABELS,
            service_labels=services.SERVICE_LABELS,
            waiting=application.status == ApplicationStatus.CONFIRMED,
        ),
        code,
    )


@bp.get("/<int:application_id>")
def show(application_id: int):
    application = get_application_or_404(application_id)
    approval = ApprovalForm(data=services.suggested_terms(application))
    return _show(application, approval, RejectionForm())


@bp.post("/<int:application_id>/approve")
def approve(application_id: int):
    application = get_application_or_404(application_id)
    form = ApprovalForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.form_errors):
            org = services.approve_application(application, form.terms(), current_user._get_current_object())
            flash(_("申込を承認し、組織を登録して管理者に招待メールを送信しました。"), "success")
            return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    application = get_application_or_404(application_id)
    return _show(application, form, RejectionForm(), 422)


@bp.post("/<int:application_id>/reject")
def reject(application_id: int):
    application = get_application_or_404(application_id)
    form = RejectionForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.form_errors):
            services.reject_application(application, form.reason.data, current_user._get_current_object())
            flash(_("申込をお断りし、お申込み担当者にメールを送信しました。"), "success")
            return redirect(url_for("applications.show", application_id=application_id), 303)
    application = get_application_or_404(application_id)
    approval = ApprovalForm(data=services.suggested_terms(application))
    return _show(application, approval, form, 422)


@bp.post("/<int:application_id>/screening")
def screening(application_id: int):
    """Record the anti-social-forces screening (反社チェック, Art. 24-2) before approval."""
    application = get_application_or_404(application_id)
    form = ScreeningForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.form_errors):
            services.record_screening(
                application, form.result.data, form.screened_on.data, form.note.data or "",
                current_user._get_current_object(),
            )
            flash(_("反社チェックの結果を記録しました。"), "success")
            return redirect(url_for("applications.show", application_id=application_id), 303)
    application = get_application_or_404(application_id)
    approval = ApprovalForm(data=services.suggested_terms(application))
    return _show(application, approval, RejectionForm(), 422, screening=form)
