from datetime import timedelta

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from portal import (
    audit,
    contracts,
    cure_notices,
    deletion,
    inbox,
    legal,
    notices,
    organization_page,
    payments,
    staff_alerts,
    staff_training,
)
from portal.accounts import signed_in_user as _me
from portal.audit_log import AuditFilterForm, TargetLabels, audit_page
from portal.blueprints.auth import services as auth_services
from portal.blueprints.auth.forms import AdminMfaPolicyForm
from portal.blueprints.operator import bp, services
from portal.blueprints.operator.forms import (
    AddressExportForm,
    AssignPaymentForm,
    CreditNoteForm,
    HandleItemForm,
    InboxFilterForm,
    IncidentUpdateForm,
    InvoiceForm,
    LegalDocumentForm,
    MfaResetForm,
    NewPaymentForm,
    NoticeCorrectionForm,
    NoticeForm,
    NoticeWithdrawForm,
    PaymentForm,
    UserLookupForm,
)
from portal.clock import TOKYO, today_in_tokyo, tokyo_to_utc, utcnow
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import (
    Contract,
    CreditNote,
    InboxItem,
    Invoice,
    LegalDocument,
    Notice,
    Organization,
    Payment,
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


def get_invoice_or_404(invoice_id: int) -> Invoice:
    return db.get_or_404(Invoice, invoice_id)


@bp.get("/")
def home():
    over_limit = db.session.execute(organizations_query(over_limit=True).limit(20)).all()
    overdue = db.session.scalars(services.overdue_invoices_query().limit(20)).all()
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


# --- invoices -------------------------------------------------------------------------------


@bp.route("/organizations/<int:org_id>/invoices/new", methods=["GET", "POST"])
def invoice_new(org_id: int):
    org = get_org_or_404(org_id)
    contract = get_contract(org)
    if contract is None:
        flash(_("契約が登録されていないため、請求書を発行できません。先に契約内容を登録してください。"), "error")
        return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    form = InvoiceForm()
    if request.method == "GET":
        form.period_start.data = contract.starts_on
        form.period_end.data = contract.ends_on
        form.due_on.data = services.default_due_on()
        form.overage_seats.data = services.suggested_overage_seats(contract, contract.starts_on, contract.ends_on)
    if form.validate_on_submit():
        with rule_violations_shown():
            invoice = services.issue_invoice(
                org,
                contract,
                period_start=form.period_start.data,
                period_end=form.period_end.data,
                due_on=form.due_on.data,
                overage_seats=form.overage_seats.data,
                by=_me(),
            )
            flash(_("請求書 %(number)s を発行し、主管理者にメールで通知しました。", number=invoice.number), "success")
            return redirect(url_for("operator.invoice_detail", invoice_id=invoice.id), 303)
    return render_template("operator/invoice_new.html", form=form, org=org, contract=contract), form_status()


@bp.get("/invoices")
def invoices():
    overdue_only = request.args.get("overdue") == "1"
    if overdue_only:
        stmt = services.overdue_invoices_query()
    else:
        stmt = select(Invoice).order_by(Invoice.issued_on.desc(), Invoice.id.desc())
    page = db.paginate(stmt, page=requested_page(), per_page=50, error_out=False)
    return render_template(
        "operator/invoices.html",
        page=page,
        overdue_only=overdue_only,
        today=today_in_tokyo(),
        action_form=EmptyForm(),
    )


@bp.get("/invoices/<int:invoice_id>")
def invoice_detail(invoice_id: int):
    invoice = get_invoice_or_404(invoice_id)
    return _invoice_page(invoice, _payment_form(invoice))


def _payment_form(invoice: Invoice) -> PaymentForm:
    form = PaymentForm()
    form.received_on.data = today_in_tokyo()
    form.amount.data = max(invoice.balance, 0) or None
    return form


def _invoice_page(invoice: Invoice, payment_form: PaymentForm, code: int = 200):
    return (
        render_template(
            "operator/invoice_detail.html",
            invoice=invoice,
            payments=payments.payments_of(invoice),
            payment_form=payment_form,
            offer_resume=payments.may_offer_resume(invoice),
            status_labels=payments.PAYMENT_STATUS_LABELS,
            today=today_in_tokyo(),
            action_form=EmptyForm(),
            notes=services.credit_notes_of(invoice),
        ),
        code,
    )


@bp.post("/invoices/<int:invoice_id>/payments")
def invoice_payment(invoice_id: int):
    """A transfer recorded against this invoice (partial, full or, once confirmed, over)."""
    invoice = get_invoice_or_404(invoice_id)
    form = PaymentForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            payments.record_payment(
                received_on=form.received_on.data, amount=form.amount.data, payer=form.payer_name.data or "",
                note=form.note.data or "", invoice=invoice, allow_overpayment=bool(form.allow_overpayment.data),
                by=_me(),
            )
            flash(_payment_message(invoice), "success")
            return redirect(url_for("operator.invoice_detail", invoice_id=invoice.id), 303)
    return _invoice_page(invoice, form, 422)


def _payment_message(invoice: Invoice) -> str:
    if invoice.balance > 0:
        return _("入金を記録しました。請求書 %(number)s の残高は %(balance)s円 です。",
                 number=invoice.number, balance=f"{invoice.balance:,}")
    if invoice.balance < 0:
        return _("入金を記録しました。請求書 %(number)s は %(excess)s円 の過入金です。返金の手続きをしてください。",
                 number=invoice.number, excess=f"{-invoice.balance:,}")
    return _("入金を記録しました。請求書 %(number)s は全額入金済みになりました。", number=invoice.number)


@bp.post("/invoices/<int:invoice_id>/paid")
def invoice_paid(invoice_id: int):
    """One click: the invoice's whole balance received today."""
    invoice = get_invoice_or_404(invoice_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            payments.pay_balance(invoice, _me())
            flash(_payment_message(invoice), "success")
    if request.form.get("next") == "overdue":
        return redirect(url_for("operator.invoices", overdue=1), 303)
    return redirect(url_for("operator.invoice_detail", invoice_id=invoice.id), 303)


@bp.route("/invoices/<int:invoice_id>/credit-notes/new", methods=["GET", "POST"])
def credit_note_new(invoice_id: int):
    """A qualified return invoice (適格返還請求書) against a paid invoice, e.g. for Art. 20-1."""
    invoice = get_invoice_or_404(invoice_id)
    form = CreditNoteForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.amount):
            note = services.issue_credit_note(invoice, form.amount.data, form.reason.data, _me())
            flash(
                _("返還インボイス %(number)s を発行し、主管理者にメールで通知しました。", number=note.number), "success"
            )
            return redirect(url_for("operator.credit_note_detail", note_id=note.id), 303)
    return render_template(
        "operator/credit_note_new.html",
        form=form,
        invoice=invoice,
        paid=services.paid_amount(invoice),
        refundable=services.refundable(invoice),
        notes=services.credit_notes_of(invoice),
    ), form_status()


@bp.get("/credit-notes/<int:note_id>")
def credit_note_detail(note_id: int):
    note = db.get_or_404(CreditNote, note_id)
    return render_template("operator/credit_note_detail.html", note=note)


@bp.post("/invoices/<int:invoice_id>/resume")
def invoice_resume(invoice_id: int):
    """Resume the organization suspended for this invoice, now paid."""
    invoice = get_invoice_or_404(invoice_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            payments.resume_after_payment(invoice, _me())
            flash(_("%(name)s の利用を再開しました。主管理者にメールで通知しました。", name=invoice.organization.name),
                  "success")
    return redirect(url_for("operator.invoice_detail", invoice_id=invoice.id), 303)


# --- payments (bank transfers) ----------------------------------------------------------------


def get_payment_or_404(payment_id: int) -> Payment:
    return db.get_or_404(Payment, payment_id)


@bp.route("/payments", methods=["GET", "POST"])
def payments_list():
    """Enter a transfer from the bank statement; the unassigned ones wait here to be assigned."""
    form = NewPaymentForm()
    if request.method == "GET":
        form.received_on.data = today_in_tokyo()
    if form.validate_on_submit():
        invoice = None
        if form.invoice_number.data:
            invoice = payments.find_invoice_by_number(form.invoice_number.data)
            if invoice is None:
                form.invoice_number.errors.append(_("この番号の請求書は見つかりません。空のままなら未割当で記録します。"))
        if not form.invoice_number.errors:
            with rule_violations_shown():
                payment = payments.record_payment(
                    received_on=form.received_on.data, amount=form.amount.data, payer=form.payer_name.data or "",
                    note=form.note.data or "", invoice=invoice, allow_overpayment=bool(form.allow_overpayment.data),
                    by=_me(),
                )
                if invoice is not None:
                    flash(_payment_message(invoice), "success")
                    return redirect(url_for("operator.invoice_detail", invoice_id=invoice.id), 303)
                flash(_("入金を未割当として記録しました。請求書を選んで割り当ててください。"), "success")
                return redirect(url_for("operator.payment_detail", payment_id=payment.id), 303)
    unassigned = db.session.scalars(payments.unassigned_payments_query().limit(100)).all()
    page = db.paginate(
        select(Payment).order_by(Payment.created_at.desc(), Payment.id.desc()),
        page=requested_page(), per_page=50, error_out=False,
    )
    return render_template("operator/payments.html", form=form, unassigned=unassigned, page=page), form_status()


@bp.get("/payments/<int:payment_id>")
def payment_detail(payment_id: int):
    payment = get_payment_or_404(payment_id)
    return _payment_page(payment, AssignPaymentForm())


def _payment_page(payment: Payment, form: AssignPaymentForm, code: int = 200):
    return (
        render_template(
            "operator/payment_detail.html",
            payment=payment,
            form=form,
            suggestions=payments.suggested_invoices(payment) if payment.invoice_id is None else [],
            action_form=EmptyForm(),
            today=today_in_tokyo(),
        ),
        code,
    )


@bp.post("/payments/<int:payment_id>/assign")
def payment_assign(payment_id: int):
    payment = get_payment_or_404(payment_id)
    form = AssignPaymentForm()
    if form.validate_on_submit():
        invoice = payments.find_invoice_by_number(form.invoice_number.data)
        if invoice is None:
            form.invoice_number.errors.append(_("この番号の請求書は見つかりません。"))
        else:
            with rule_violations_shown():
                payments.assign_payment(payment, invoice, bool(form.allow_overpayment.data), _me())
                flash(_payment_message(invoice), "success")
                return redirect(url_for("operator.invoice_detail", invoice_id=invoice.id), 303)
    return _payment_page(payment, form, 422)


@bp.post("/invoices/<int:invoice_id>/suspend")
def invoice_suspend(invoice_id: int):
    invoice = get_invoice_or_404(invoice_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            services.suspend_for_non_payment(invoice, _me())
            flash(
                _("%(name)s を利用停止にしました。主管理者にメールで通知しました。", name=invoice.organization.name),
                "success",
            )
    return redirect(url_for("operator.invoices", overdue=1), 303)


# --- notices (Art. 9, 11, 20, 21) -----------------------------------------------------------


def get_notice_or_404(notice_id: int) -> Notice:
    return db.get_or_404(Notice, notice_id)


def _organization_choices():
    rows = db.session.execute(select(Organization.id, Organization.name).order_by(Organization.name)).all()
    return [SelectChoice(org_id, name) for org_id, name in rows]


@bp.get("/notices")
def notices_list():
    page = db.paginate(
        select(Notice).order_by(Notice.published_at.desc(), Notice.id.desc()),
        page=requested_page(),
        per_page=50,
        error_out=False,
    )
    return render_template("operator/notices.html", page=page)


@bp.route("/notices/new", methods=["GET", "POST"])
def notice_new():
    form = NoticeForm()
    form.organizations.choices = _organization_choices()
    if form.validate_on_submit():
        draft = notices.NoticeDraft(
            kind=form.kind.data,
            title=form.title.data,
            body=form.body.data,
            organization_ids=list(form.organizations.data) if form.audience.data == "chosen" else None,
            starts_at=tokyo_to_utc(form.starts_at.data),
            ends_at=tokyo_to_utc(form.ends_at.data),
            service_ends_on=form.service_ends_on.data,
        )
        with rule_violations_shown(form.kind):
            notice = notices.publish_notice(draft, _me())
            flash(_("お知らせを公開し、主管理者にメールで通知しました。"), "success")
            return redirect(url_for("operator.notice_detail", notice_id=notice.id), 303)
    return render_template("operator/notice_new.html", form=form), form_status()


@bp.get("/notices/<int:notice_id>")
def notice_detail(notice_id: int):
    notice = get_notice_or_404(notice_id)
    return _notice_page(notice, IncidentUpdateForm())


def _notice_page(notice: Notice, form: IncidentUpdateForm, code: int = 200, withdraw_form=None):
    reads = notices.readers(notice)
    return (
        render_template(
            "operator/notice_detail.html",
            notice=notice,
            form=form,
            withdraw_form=withdraw_form or NoticeWithdrawForm(),
            readers=reads,
            organizations=notices.target_organizations(notice),
            read_org_ids={r.organization_id for r in reads},
        ),
        code,
    )


@bp.post("/notices/<int:notice_id>/updates")
def notice_update(notice_id: int):
    notice = get_notice_or_404(notice_id)
    form = IncidentUpdateForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.status):
            notices.add_incident_update(notice, form.status.data, form.body.data, _me())
            flash(_("経過報告を追加し、主管理者にメールで通知しました。"), "success")
            return redirect(url_for("operator.notice_detail", notice_id=notice.id), 303)
    return _notice_page(notice, form, 422)


def _local(moment):
    return moment.astimezone(TOKYO).replace(tzinfo=None) if moment else None


@bp.route("/notices/<int:notice_id>/edit", methods=["GET", "POST"])
def notice_edit(notice_id: int):
    """Correct a notice; its page keeps what it said before."""
    notice = get_notice_or_404(notice_id)
    form = NoticeCorrectionForm(
        data=None if request.method == "POST" else {
            "title": notice.title, "body": notice.body, "starts_at": _local(notice.starts_at),
            "ends_at": _local(notice.ends_at), "service_ends_on": notice.service_ends_on,
        }
    )
    if form.validate_on_submit():
        correction = notices.NoticeCorrection(
            title=form.title.data,
            body=form.body.data,
            starts_at=tokyo_to_utc(form.starts_at.data),
            ends_at=tokyo_to_utc(form.ends_at.data),
            service_ends_on=form.service_ends_on.data,
        )
        with rule_violations_shown(form.title):
            notices.correct_notice(notice, correction, _me(), renotify=form.renotify.data, reason=form.reason.data)
            flash(_("お知らせを訂正し、主管理者にメールで再通知しました。") if form.renotify.data
                  else _("お知らせを訂正しました(メールは送っていません)。"), "success")
            return redirect(url_for("operator.notice_detail", notice_id=notice.id), 303)
    return render_template("operator/notice_edit.html", notice=notice, form=form), form_status()


@bp.post("/notices/<int:notice_id>/withdraw")
def notice_withdraw(notice_id: int):
    notice = get_notice_or_404(notice_id)
    form = NoticeWithdrawForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.reason):
            notices.withdraw_notice(notice, _me(), reason=form.reason.data, renotify=form.renotify.data)
            flash(_("お知らせを取り下げました。お客様の画面には表示されません。"), "success")
            return redirect(url_for("operator.notice_detail", notice_id=notice.id), 303)
    return _notice_page(notice, IncidentUpdateForm(), 422, withdraw_form=form)


@bp.route("/notices/addresses", methods=["GET", "POST"])
def notice_addresses():
    """The chosen organizations' registered postal addresses as CSV, for notices by post (Art. 9-3)."""
    form = AddressExportForm()
    form.organizations.choices = _organization_choices()
    if form.validate_on_submit():
        body = notices.address_csv(list(form.organizations.data))
        audit.record("notice.addresses_exported", organizations=sorted(form.organizations.data))
        response = make_response(body)
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        filename = f"addresses-{today_in_tokyo():%Y%m%d}.csv"
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
        return response
    return render_template("operator/notice_addresses.html", form=form), form_status()


# --- terms and public texts (Art. 5, 25) -----------------------------------------------------


@bp.get("/legal")
def legal_list():
    documents = db.session.scalars(
        select(LegalDocument).order_by(LegalDocument.kind, LegalDocument.effective_on.desc(), LegalDocument.id.desc())
    ).all()
    current_terms = legal.current_document("terms")
    return render_template(
        "operator/legal.html",
        documents=documents,
        current_terms=current_terms,
        acceptances=legal.all_acceptances(requested_page()),
        today=today_in_tokyo(),
    )


@bp.route("/legal/new", methods=["GET", "POST"])
def legal_new():
    form = LegalDocumentForm()
    if request.method == "GET" and request.args.get("kind") in {"terms", "privacy", "security"}:
        form.kind.data = request.args["kind"]
        latest = legal.current_document(form.kind.data)
        if latest is not None:
            form.body.data = latest.body
    if form.validate_on_submit():
        with rule_violations_shown():
            legal.publish_document(form.kind.data, form.version.data, form.body.data, form.effective_on.data, _me())
            flash(_("新しい版を登録しました。施行日から公開ページに表示されます。"), "success")
            return redirect(url_for("operator.legal_list"), 303)
    return render_template("operator/legal_new.html", form=form), form_status()


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
        auth_services.set_admin_mfa_policy(org, bool(form.required.data))
        flash(_("2段階認証の設定を保存しました。"), "success")
    return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)


# --- a lost second factor (#10) ----------------------------------------------------------------------


@bp.get("/users/two-factor")
def user_mfa_lookup():
    """Find a user by email address to reset their second factor."""
    form = UserLookupForm(request.args)
    not_found = False
    if form.validate() and form.email.data:
        user = auth_services.find_user_by_email(form.email.data)
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
        with rule_violations_shown(catch=auth_services.MfaResetRefused):
            auth_services.reset_mfa_by_staff(user, by=_me(), reason=form.reason.data)
            flash(
                _("2段階認証をリセットしました。本人にメールで知らせ、次のログインで設定し直すよう求めます。"),
                "success",
            )
            return redirect(url_for("operator.user_mfa_reset", user_id=user.id), 303)
        status = 409
    elif form.is_submitted():
        status = 422
    return render_template("operator/user_mfa_reset.html", user=user, form=form), status
