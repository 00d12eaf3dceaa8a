"""Billing's two views: the operator's invoices, payments and credit notes (/operator) and the organization's
invoices and credit notes (/org)."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal import contracts, invoicing, payments
from portal.accounts import signed_in_user as _me
from portal.blueprints.billing import operator_bp, org_bp, services
from portal.blueprints.billing.forms import AssignPaymentForm, CreditNoteForm, InvoiceForm, NewPaymentForm, PaymentForm
from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import CreditNote, Invoice, Organization, Payment, Role
from portal.pagination import requested_page
from portal.security import role_required
from portal.violations import form_status, rule_violations_shown


def get_invoice_or_404(invoice_id: int) -> Invoice:
    """The invoice; in the org area the tenant scope makes another organization's invoice a 404."""
    return db.get_or_404(Invoice, invoice_id)


# --- the operator's view: invoices (Art. 3) ------------------------------------------------------


@operator_bp.route("/organizations/<int:org_id>/invoices/new", methods=["GET", "POST"])
def invoice_new(org_id: int):
    org = db.get_or_404(Organization, org_id)
    contract = contracts.current_contract(org.id)
    if contract is None:
        flash(_("契約が登録されていないため、請求書を発行できません。先に契約内容を登録してください。"), "error")
        return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    form = InvoiceForm()
    if request.method == "GET":
        form.period_start.data = contract.starts_on
        form.period_end.data = contract.ends_on
        form.due_on.data = invoicing.default_due_on()
        form.overage_seats.data = invoicing.suggested_overage_seats(contract, contract.starts_on, contract.ends_on)
    if form.validate_on_submit():
        with rule_violations_shown():
            invoice = invoicing.issue_invoice(
                org,
                contract,
                period_start=form.period_start.data,
                period_end=form.period_end.data,
                due_on=form.due_on.data,
                overage_seats=form.overage_seats.data,
                by=_me(),
            )
            flash(_("請求書 %(number)s を発行し、主管理者にメールで通知しました。", number=invoice.number), "success")
            return redirect(url_for("operator_billing.invoice_detail", invoice_id=invoice.id), 303)
    return render_template("billing/operator_invoice_new.html", form=form, org=org, contract=contract), form_status()


@operator_bp.get("/invoices")
def invoices():
    overdue_only = request.args.get("overdue") == "1"
    if overdue_only:
        stmt = invoicing.overdue_invoices_query()
    else:
        stmt = select(Invoice).order_by(Invoice.issued_on.desc(), Invoice.id.desc())
    page = db.paginate(stmt, page=requested_page(), per_page=50, error_out=False)
    return render_template(
        "billing/operator_invoices.html",
        page=page,
        overdue_only=overdue_only,
        today=today_in_tokyo(),
        action_form=EmptyForm(),
    )


@operator_bp.get("/invoices/<int:invoice_id>")
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
            "billing/operator_invoice_detail.html",
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


@operator_bp.post("/invoices/<int:invoice_id>/payments")
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
            return redirect(url_for("operator_billing.invoice_detail", invoice_id=invoice.id), 303)
    return _invoice_page(invoice, form, 422)


def _payment_message(invoice: Invoice) -> str:
    if invoice.balance > 0:
        return _("入金を記録しました。請求書 %(number)s の残高は %(balance)s円 です。",
                 number=invoice.number, balance=f"{invoice.balance:,}")
    if invoice.balance < 0:
        return _("入金を記録しました。請求書 %(number)s は %(excess)s円 の過入金です。返金の手続きをしてください。",
                 number=invoice.number, excess=f"{-invoice.balance:,}")
    return _("入金を記録しました。請求書 %(number)s は全額入金済みになりました。", number=invoice.number)


@operator_bp.post("/invoices/<int:invoice_id>/paid")
def invoice_paid(invoice_id: int):
    """One click: the invoice's whole balance received today."""
    invoice = get_invoice_or_404(invoice_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            payments.pay_balance(invoice, _me())
            flash(_payment_message(invoice), "success")
    if request.form.get("next") == "overdue":
        return redirect(url_for("operator_billing.invoices", overdue=1), 303)
    return redirect(url_for("operator_billing.invoice_detail", invoice_id=invoice.id), 303)


@operator_bp.route("/invoices/<int:invoice_id>/credit-notes/new", methods=["GET", "POST"])
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
            return redirect(url_for("operator_billing.credit_note_detail", note_id=note.id), 303)
    return render_template(
        "billing/operator_credit_note_new.html",
        form=form,
        invoice=invoice,
        paid=services.paid_amount(invoice),
        refundable=services.refundable(invoice),
        notes=services.credit_notes_of(invoice),
    ), form_status()


@operator_bp.get("/credit-notes/<int:note_id>")
def credit_note_detail(note_id: int):
    note = db.get_or_404(CreditNote, note_id)
    return render_template("billing/operator_credit_note_detail.html", note=note)


@operator_bp.post("/invoices/<int:invoice_id>/resume")
def invoice_resume(invoice_id: int):
    """Resume the organization suspended for this invoice, now paid."""
    invoice = get_invoice_or_404(invoice_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            payments.resume_after_payment(invoice, _me())
            flash(_("%(name)s の利用を再開しました。主管理者にメールで通知しました。", name=invoice.organization.name),
                  "success")
    return redirect(url_for("operator_billing.invoice_detail", invoice_id=invoice.id), 303)


# --- payments (bank transfers) ----------------------------------------------------------------


def get_payment_or_404(payment_id: int) -> Payment:
    return db.get_or_404(Payment, payment_id)


@operator_bp.route("/payments", methods=["GET", "POST"])
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
                    return redirect(url_for("operator_billing.invoice_detail", invoice_id=invoice.id), 303)
                flash(_("入金を未割当として記録しました。請求書を選んで割り当ててください。"), "success")
                return redirect(url_for("operator_billing.payment_detail", payment_id=payment.id), 303)
    unassigned = db.session.scalars(payments.unassigned_payments_query().limit(100)).all()
    page = db.paginate(
        select(Payment).order_by(Payment.created_at.desc(), Payment.id.desc()),
        page=requested_page(), per_page=50, error_out=False,
    )
    return render_template("billing/operator_payments.html", form=form, unassigned=unassigned, page=page), form_status()


@operator_bp.get("/payments/<int:payment_id>")
def payment_detail(payment_id: int):
    payment = get_payment_or_404(payment_id)
    return _payment_page(payment, AssignPaymentForm())


def _payment_page(payment: Payment, form: AssignPaymentForm, code: int = 200):
    return (
        render_template(
            "billing/operator_payment_detail.html",
            payment=payment,
            form=form,
            suggestions=payments.suggested_invoices(payment) if payment.invoice_id is None else [],
            action_form=EmptyForm(),
            today=today_in_tokyo(),
        ),
        code,
    )


@operator_bp.post("/payments/<int:payment_id>/assign")
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
                return redirect(url_for("operator_billing.invoice_detail", invoice_id=invoice.id), 303)
    return _payment_page(payment, form, 422)


@operator_bp.post("/invoices/<int:invoice_id>/suspend")
def invoice_suspend(invoice_id: int):
    invoice = get_invoice_or_404(invoice_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            services.suspend_for_non_payment(invoice, _me())
            flash(
                _("%(name)s を利用停止にしました。主管理者にメールで通知しました。", name=invoice.organization.name),
                "success",
            )
    return redirect(url_for("operator_billing.invoices", overdue=1), 303)


# --- the organization's view: its invoices and credit notes (administrators only) ---------------------
# Each endpoint is named as the operator's view of the same thing (org_billing.invoices), the function org_...


@org_bp.get("/invoices", endpoint="invoices")
@role_required(Role.ORG_ADMIN)
def org_invoices():
    rows = db.session.scalars(select(Invoice).order_by(Invoice.issued_on.desc(), Invoice.id.desc())).all()
    return render_template("billing/org_invoices.html", invoices=rows, today=today_in_tokyo())


@org_bp.get("/invoices/<int:invoice_id>", endpoint="invoice_detail")
@role_required(Role.ORG_ADMIN)
def org_invoice_detail(invoice_id: int):
    # Another organization's invoice is outside the tenant scope: 404.
    invoice = get_invoice_or_404(invoice_id)
    notes = db.session.scalars(
        select(CreditNote).where(CreditNote.invoice_id == invoice.id).order_by(CreditNote.id)
    ).all()
    return render_template("billing/org_invoice_detail.html", invoice=invoice, notes=notes)


@org_bp.get("/credit-notes/<int:note_id>", endpoint="credit_note_detail")
@role_required(Role.ORG_ADMIN)
def org_credit_note_detail(note_id: int):
    # Another organization's credit note is outside the tenant scope: 404.
    note = db.get_or_404(CreditNote, note_id)
    return render_template("billing/org_credit_note_detail.html", note=note)
