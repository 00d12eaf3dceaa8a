import hashlib

from flask import abort, current_app, redirect, render_template, request, url_for

from portal import legal
from portal.accounts import normalize_email
from portal.audit import client_ip
from portal.blueprints.registration import bp, services
from portal.blueprints.registration.forms import ApplicationForm
from portal.blueprints.registration.services import LinkExpired, LinkInvalid
from portal.extensions import limiter
from portal.forms import EmptyForm
from portal.models import DocumentKind
from portal.violations import form_status, rule_violations_shown


@bp.before_request
def _cap_request_size():
    # The form is a few kilobytes; anything much larger is not an application.
    if (request.content_length or 0) > current_app.config["APPLICATION_MAX_BYTES"]:
        abort(413)


def _email_key() -> str:
    """Rate-limit key per applicant address, hashed so no email sits in the store."""
    email = normalize_email(request.form.get("applicant_email"))
    return "apply:" + hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()


def _accepted(response) -> bool:
    # Only an answered application counts towards the per-address limit; typing errors do not.
    return response.status_code == 303


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_APPLY_PER_IP"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["RATELIMIT_APPLY_PER_EMAIL"],
    key_func=_email_key,
    methods=["POST"],
    deduct_when=_accepted,
)
def apply():
    terms = legal.current_document(DocumentKind.TERMS)
    form = ApplicationForm()
    if request.method == "POST" and form.website.data:
        # A bot filled the hidden field: the same answer as everyone, and nothing stored.
        return redirect(url_for("registration.thanks"), 303)
    if terms is not None and form.validate_on_submit():
        with rule_violations_shown(form.form_errors):
            services.submit_application(form.data_for_service(), terms, client_ip())
            return redirect(url_for("registration.thanks"), 303)
    return render_template("registration/apply.html", form=form, terms=terms), form_status()


@bp.get("/thanks")
def thanks():
    return render_template("registration/thanks.html")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET shows a button (mail scanners open links); the POST confirms, once."""
    form = EmptyForm()
    try:
        application = services.application_for_link(token)
        if form.validate_on_submit():
            services.confirm_application(token)
            return redirect(url_for("registration.confirmed"), 303)
    except LinkExpired:
        return render_template("registration/expired.html", form=EmptyForm(), token=token), 410
    except LinkInvalid:
        return render_template("registration/link_invalid.html"), 404
    return render_template("registration/confirm.html", form=form, application=application)


def _link_key() -> str:
    token = (request.view_args or {}).get("token", "")
    return "apply-resend:" + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@bp.post("/confirm/<token>/resend")
@limiter.limit(lambda: current_app.config["RATELIMIT_APPLY_PER_IP"])
@limiter.limit(lambda: current_app.config["RATELIMIT_APPLY_RESEND"], key_func=_link_key, deduct_when=_accepted)
def resend(token: str):
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(url_for("registration.confirm", token=token), 303)
    try:
        services.resend_confirmation(token)
    except LinkInvalid:
        return render_template("registration/link_invalid.html"), 404
    return redirect(url_for("registration.resent"), 303)


@bp.get("/confirmed")
def confirmed():
    return render_template("registration/confirmed.html")


@bp.get("/resent")
def resent():
    return render_template("registration/resent.html")
