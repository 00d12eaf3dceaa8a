"""The public contact page (Art. 10): the desk's hours, the emergency address, and a form that becomes a
ticket once its sender confirms their email address. Nobody needs to sign in."""

from __future__ import annotations

import hashlib

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.accounts import normalize_email
from portal.audit import client_ip
from portal.blueprints.tickets import contact_bp as bp
from portal.blueprints.tickets import services
from portal.blueprints.tickets.forms import ContactForm
from portal.extensions import limiter
from portal.forms import EmptyForm
from portal.i18n import local_datetime
from portal.violations import form_status, rule_violations_shown


@bp.before_request
def _cap_request_size():
    # The form is a few kilobytes; anything much larger is not a question.
    if (request.content_length or 0) > current_app.config["CONTACT_MAX_BYTES"]:
        abort(413)


def _email_key() -> str:
    """Rate-limit key per sender address, hashed so that no address sits in the store."""
    email = normalize_email(request.form.get("email"))
    return "contact:" + hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()


def _accepted(response) -> bool:
    # Only a sent message counts towards the per-address limit; typing errors do not.
    return response.status_code == 303


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_CONTACT_PER_IP"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["RATELIMIT_CONTACT_PER_EMAIL"],
    key_func=_email_key,
    methods=["POST"],
    deduct_when=_accepted,
)
def form():
    contact_form = ContactForm(categories=services.CONTACT_CATEGORIES)
    if request.method == "POST" and contact_form.website.data:
        # A bot filled the hidden field: the same answer as everyone, and nothing stored.
        return redirect(url_for("contact.sent"), 303)
    if contact_form.validate_on_submit():
        with rule_violations_shown(contact_form.form_errors):
            data = services.ContactData(**{name: contact_form[name].data for name in
                                           ("name", "company", "email", "category", "subject", "body")})
            services.submit_contact(data, client_ip())
            return redirect(url_for("contact.sent"), 303)
    return render_template(
        "contact/form.html",
        form=contact_form,
        hours=services.desk_hours(),
        oncall_email=current_app.config.get("ONCALL_EMAIL"),
    ), form_status()


@bp.get("/sent")
def sent():
    return render_template("contact/sent.html", hours=current_app.config["CONTACT_CONFIRM_TTL"].total_seconds() // 3600)


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET shows a button (mail scanners open links); the POST turns the message into a ticket, once."""
    confirm_form = EmptyForm()
    try:
        pending = services.contact_request_for_link(token)
        if confirm_form.validate_on_submit():
            receipt = services.confirm_contact(token)
            flash(_("お問い合わせを受付番号 #%(id)d で受け付けました。回答の目安: %(due)s まで。",
                    id=receipt.ticket_id, due=local_datetime(receipt.due_at)), "success")
            if receipt.oncall == "oncall_notified":
                flash(_("時間外の緊急のお問い合わせとして、当番の担当者にメールで連絡しました。"), "info")
            return redirect(url_for("contact.received"), 303)
    except services.ContactLinkInvalid as invalid:
        return render_template("contact/link_invalid.html", expired=invalid.expired), 410 if invalid.expired else 404
    return render_template("contact/confirm.html", form=confirm_form, pending=pending)


@bp.get("/received")
def received():
    return render_template("contact/received.html")
