from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.blueprints.invitations import bp, services
from portal.blueprints.invitations.forms import AcceptInvitationForm
from portal.sign_in import start_session
from portal.tokens import TokenInvalid


@bp.route("/<token>", methods=["GET", "POST"])
def accept(token: str):
    try:
        user = services.invitation_target(token)
    except TokenInvalid:
        return render_template("invitations/invalid.html"), 404
    form = AcceptInvitationForm()
    form.policy_inputs = (user.name, user.email or "", user.login_id or "")
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(token, form.new_password.data)
        except TokenInvalid:
            return render_template("invitations/invalid.html"), 404
        start_session(user)
        flash(_("パスワードを設定しました。ようこそ。"), "success")
        return redirect(url_for("main.index"), 303)
    return render_template("invitations/accept.html", form=form, user=user)
