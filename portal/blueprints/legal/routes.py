from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import legal
from portal.accounts import signed_in_user as _me
from portal.blueprints.legal import bp, operator_bp, services
from portal.blueprints.legal.forms import LegalDocumentForm
from portal.clock import today_in_tokyo
from portal.forms import EmptyForm
from portal.models import DocumentKind, Role
from portal.pagination import requested_page
from portal.security import role_required, safe_next
from portal.violations import form_status, rule_violations_shown

# --- the public pages and the terms acceptance (/legal) -----------------------------------------------------


def _safe_next(target: str | None) -> str | None:
    return safe_next(target)


@bp.get("/<kind>")
def page(kind: str):
    if kind not in set(DocumentKind):
        abort(404)
    document = legal.current_document(kind)
    if document is None:
        abort(404)
    return render_template("legal/page.html", document=document, label=legal.KIND_LABELS[kind])


@bp.route("/accept", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def accept():
    """The revised terms, shown once to each administrator with what changed (Art. 25)."""
    me = current_user._get_current_object()
    document = legal.needs_acceptance(me)
    if document is None:
        return redirect(url_for("main.index"), 303)
    form = EmptyForm()
    previous = legal.previous_document(document)
    if form.validate_on_submit():
        legal.accept(document, me)
        flash(_("改定後の利用規約を確認しました。") if previous else _("利用規約を確認しました。"), "success")
        return redirect(_safe_next(request.args.get("next")) or url_for("main.index"), 303)
    return render_template(
        "legal/accept.html",
        document=document,
        previous=previous,
        lines=legal.differences(previous, document),
        form=form,
    )


@bp.get("/subcontractors")
def subcontractors():
    """The public list of subcontractors (再委託先, Art. 6)."""
    return render_template("legal/subcontractors.html", subcontractors=legal.subcontractors())


# --- the operator's view: terms and public texts (Art. 5, 25) -----------------------------------------------


@operator_bp.get("/legal")
def legal_list():
    documents = services.all_documents()
    current_terms = legal.current_document("terms")
    return render_template(
        "legal/operator_legal.html",
        documents=documents,
        current_terms=current_terms,
        acceptances=legal.all_acceptances(requested_page()),
        today=today_in_tokyo(),
    )


@operator_bp.route("/legal/new", methods=["GET", "POST"])
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
            return redirect(url_for("operator_legal.legal_list"), 303)
    return render_template("legal/operator_legal_new.html", form=form), form_status()
