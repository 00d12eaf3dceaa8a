from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import legal
from portal.blueprints.legal import bp
from portal.forms import EmptyForm
from portal.models import DocumentKind, Role
from portal.security import role_required, safe_next


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
