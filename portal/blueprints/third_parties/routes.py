from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal import legal, organization_page, third_parties
from portal.accounts import signed_in_user as _me
from portal.blueprints.third_parties import operator_bp, org_bp, services
from portal.blueprints.third_parties.forms import SubcontractorForm, ThirdPartyForm, ThirdPartyMemberForm
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import Organization, Role, Subcontractor, ThirdParty, User
from portal.organizations import get_or_404
from portal.security import role_required
from portal.violations import form_status, rule_violations_shown

# --- the operator's view ----------------------------------------------------------------------


# --- subcontractors (再委託先, Art. 6) ----------------------------------------------------------


def get_subcontractor_or_404(subcontractor_id: int) -> Subcontractor:
    return db.get_or_404(Subcontractor, subcontractor_id)


@operator_bp.route("/subcontractors", methods=["GET", "POST"])
def subcontractors():
    form = SubcontractorForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            legal.add_subcontractor(form.name.data, form.purpose.data, form.location.data, _me())
            flash(_("委託先を追加しました。公開ページに表示されます。"), "success")
            return redirect(url_for("operator_third_parties.subcontractors"), 303)
    return (
        render_template(
            "third_parties/operator_subcontractors.html",
            form=form,
            subcontractors=legal.subcontractors(),
            action_form=EmptyForm(),
        ),
        form_status(form),
    )


@operator_bp.route("/subcontractors/<int:subcontractor_id>/edit", methods=["GET", "POST"])
def subcontractor_edit(subcontractor_id: int):
    subcontractor = get_subcontractor_or_404(subcontractor_id)
    form = SubcontractorForm(obj=subcontractor)
    if form.validate_on_submit():
        with rule_violations_shown():
            legal.update_subcontractor(subcontractor, form.name.data, form.purpose.data, form.location.data, _me())
            flash(_("委託先を更新しました。"), "success")
            return redirect(url_for("operator_third_parties.subcontractors"), 303)
    page = render_template("third_parties/operator_subcontractor_edit.html", form=form, subcontractor=subcontractor)
    return page, form_status(form)


@operator_bp.post("/subcontractors/<int:subcontractor_id>/delete")
def subcontractor_delete(subcontractor_id: int):
    subcontractor = get_subcontractor_or_404(subcontractor_id)
    if EmptyForm().validate_on_submit():
        legal.remove_subcontractor(subcontractor, _me())
        flash(_("委託先を一覧から削除しました。"), "success")
    return redirect(url_for("operator_third_parties.subcontractors"), 303)


# --- third parties (Art. 14) ------------------------------------------------------------------


@organization_page.section
def _third_parties_section(org: Organization) -> dict:
    """This subject's part of the page of one organization: the third parties approved, and the form to approve."""
    return {"third_parties": third_parties.all_for(org), "third_party_form": ThirdPartyForm()}


@operator_bp.post("/organizations/<int:org_id>/third-parties")
def third_party_approve(org_id: int):
    org = get_or_404(org_id)
    form = ThirdPartyForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            third_parties.approve(org, form.name.data, form.note.data or "", _me())
            flash(_("第三者の利用を承諾しました。"), "success")
    else:
        flash(_("第三者の名称を入力してください。"), "error")
    return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)


@operator_bp.post("/third-parties/<int:party_id>/revoke")
def third_party_revoke(party_id: int):
    party = db.get_or_404(ThirdParty, party_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            unmarked = third_parties.revoke(party, _me())
            flash(_("承諾を取り消しました(所属を外した受講者: %(n)d名)。", n=unmarked), "success")
    return redirect(url_for("operator_organizations.organization_detail", org_id=party.organization_id), 303)


# --- the organization's view ------------------------------------------------------------------


@org_bp.route("/third-parties", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def third_party_members():
    org = current_user.organization
    approved = third_parties.approved(org)
    form = ThirdPartyMemberForm()
    learners = services.active_learners()
    form.learner.choices = [SelectChoice(u.id, f"{u.name} ({u.login_id or u.email or ''})") for u in learners]
    form.third_party.choices = [SelectChoice(0, _("所属なし"))] + [SelectChoice(p.id, p.name) for p in approved]
    if request.method == "POST":
        # An id outside the list (an unapproved or revoked third party) reaches the service, which refuses it.
        form.third_party.validate_choice = False
    if form.validate_on_submit():
        learner = db.session.get(User, form.learner.data)
        if learner is None:
            abort(404)
        with rule_violations_shown():
            third_parties.mark_learner(learner, form.third_party.data or None, current_user._get_current_object())
            flash(_("受講者の所属を保存しました。"), "success")
            return redirect(url_for("org_third_parties.third_party_members"), 303)
    return render_template(
        "third_parties/org_third_parties.html", form=form, approved=approved, members=third_parties.members(org)
    ), form_status()
