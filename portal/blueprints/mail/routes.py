from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from portal.blueprints.mail import bp, services
from portal.blueprints.mail.forms import MessageFilterForm, SuppressionForm
from portal.extensions import db
from portal.forms import EmptyForm
from portal.htmx import is_htmx
from portal.ids import parse_id
from portal.models import Organization, Role
from portal.pagination import requested_page
from portal.security import role_required
from portal.violations import rule_violations_shown


def get_message_or_404(message_id: int):
    # The tenant scope hides other organizations' messages: their ids are simply not found.
    message = services.get_message(message_id)
    if message is None:
        abort(404)
    return message


@bp.get("/")
def messages():
    is_operator = current_user.role == Role.OPERATOR
    form = MessageFilterForm(request.args, meta={"csrf": False}, with_organization=is_operator)
    form.validate()
    org_field = getattr(form, "organization_id", None)
    page = services.message_page(
        page=requested_page(),
        organization_id=parse_id(str(org_field.data or "")) if org_field else None,
        status=form.status.data or None,
        template=form.template.data or None,
        date_from=None if form.date_from.errors else form.date_from.data,
        date_to=None if form.date_to.errors else form.date_to.data,
    )
    context = {"form": form, "page": page, "labels": services.STATUS_LABELS, "is_operator": is_operator}
    if is_htmx():
        return render_block("mail/messages.html", "results", **context)
    return render_template("mail/messages.html", **context)


@bp.get("/<int:message_id>")
def message(message_id: int):
    message = get_message_or_404(message_id)
    return render_template(
        "mail/message.html",
        message=message,
        labels=services.STATUS_LABELS,
        is_operator=current_user.role == Role.OPERATOR,
        retryable=message.status in services.RETRYABLE,
        form=EmptyForm(),
    )


@bp.post("/<int:message_id>/retry")
@role_required(Role.OPERATOR)
def retry(message_id: int):
    message = get_message_or_404(message_id)
    if EmptyForm().validate_on_submit():
        not_retryable = _("送信失敗または配信停止のメールだけを再送できます。")
        with rule_violations_shown(catch=services.NotRetryable, message=not_retryable):
            services.retry_message(message, current_user._get_current_object())
            flash(_("再送を予約しました。数秒から数分で送信されます。"), "success")
    return redirect(url_for("mail.message", message_id=message.id), 303)


@bp.route("/suppressions", methods=["GET", "POST"])
@role_required(Role.OPERATOR)
def suppressions():
    form = SuppressionForm()
    if form.validate_on_submit():
        org_id = form.organization_id.data
        organization = db.session.get(Organization, int(org_id)) if org_id else None
        address = services.normalize_address(form.address.data) if form.address.data else None
        services.suppress(
            address=address, organization=organization, note=form.note.data or "", by=current_user._get_current_object()
        )
        flash(_("配信停止に追加しました。該当するメールは送信されず「配信停止で保留」として残ります。"), "success")
        return redirect(url_for("mail.suppressions"), 303)
    status = 422 if form.errors else 200
    return (
        render_template(
            "mail/suppressions.html",
            form=form,
            suppressions=services.suppressions(),
            reasons=services.REASON_LABELS,
            lift_form=EmptyForm(),
        ),
        status,
    )


@bp.post("/suppressions/<int:suppression_id>/lift")
@role_required(Role.OPERATOR)
def lift_suppression(suppression_id: int):
    suppression = services.get_suppression(suppression_id)
    if suppression is None:
        abort(404)
    if EmptyForm().validate_on_submit():
        services.lift_suppression(suppression, current_user._get_current_object())
        flash(_("配信停止を解除しました。保留になっていたメールは、必要なら個別に再送してください。"), "success")
    return redirect(url_for("mail.suppressions"), 303)
