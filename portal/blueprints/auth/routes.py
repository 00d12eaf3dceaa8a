from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.blueprints.auth import bp, services
from portal.blueprints.auth.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    OrgLoginForm,
    ResetPasswordForm,
    SignInLinkRequestForm,
)
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.passwords import verify_password
from portal.tokens import TokenInvalid


def _failed(response) -> bool:
    # A successful sign-in redirects; everything else counts towards the limits.
    return response.status_code != 303


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_IP"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"],
    key_func=services.login_account_key,
    methods=["POST"],
    deduct_when=_failed,
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"), 303)
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            services.start_session(user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")) or url_for("main.index"), 303)
        db.session.commit()
        form.password.errors.append(_("メールアドレスまたはパスワードが正しくありません。"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    form = EmptyForm()
    user = current_user._get_current_object()
    target = services.sign_in_page_for(user)
    if form.validate_on_submit():
        services.end_all_sessions(user)
        db.session.commit()
        flash(_("ログアウトしました。"), "success")
        return redirect(target, 303)
    return redirect(url_for("auth.login"), 303)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_FORGOT"], methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        flash(
            _(
                "入力されたアドレスが登録されている場合、パスワード再設定のご案内をお送りしました。"
                "メールが届かない場合は、迷惑メールフォルダもご確認ください。"
            ),
            "success",
        )
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = services.reset_target(token)
    except TokenInvalid:
        return render_template("auth/reset_invalid.html"), 404
    form = ResetPasswordForm()
    form.policy_inputs = (user.name, user.email or "")
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.new_password.data)
        except TokenInvalid:
            db.session.rollback()
            return render_template("auth/reset_invalid.html"), 404
        db.session.commit()
        flash(_("パスワードを再設定しました。新しいパスワードでログインしてください。"), "success")
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/reset.html", form=form)


@bp.route("/password/change", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    user = current_user._get_current_object()
    form.policy_inputs = (user.name, user.email or "")
    first_change = user.must_change_password
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current_password.data):
            form.current_password.errors.append(_("現在のパスワードが正しくありません。"))
        elif first_change:
            # Replacing an initial password: other sessions end, this one continues on a fresh session.
            services.change_password(user, form.new_password.data)
            user.end_all_sessions()
            services.start_session(user)
            db.session.commit()
            flash(_("パスワードを設定しました。"), "success")
            return redirect(url_for("main.index"), 303)
        else:
            target = services.sign_in_page_for(user)
            services.change_password(user, form.new_password.data)
            services.end_all_sessions(user, action="auth.sessions_ended_by_password_change")
            db.session.commit()
            flash(
                _("パスワードを変更しました。すべての端末からログアウトしました。新しいパスワードでログインしてください。"),
                "success",
            )
            return redirect(target, 303)
    return render_template("auth/change_password.html", form=form, first_change=first_change)


# --- learners: the organization's login URL, sign-in links, invitations ------------------------


@bp.route("/o/<code>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_IP"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"],
    key_func=services.org_login_account_key,
    methods=["POST"],
    deduct_when=_failed,
)
def org_login(code: str):
    """受講者ID sign-in. An unknown code looks like any organization: no name, the same refusal."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"), 303)
    organization = services.find_organization(code)
    form = OrgLoginForm()
    if form.validate_on_submit():
        user = services.authenticate_learner(organization, form.login_id.data, form.password.data)
        if user is not None:
            services.start_session(user)
            db.session.commit()
            return redirect(url_for("main.index"), 303)
        db.session.commit()
        form.password.errors.append(_("受講者IDまたはパスワードが正しくありません。"))
    link_form = SignInLinkRequestForm() if organization is not None and organization.magic_link_sign_in else None
    return render_template("auth/org_login.html", form=form, link_form=link_form, code=code)


@bp.post("/o/<code>/link")
@limiter.limit(lambda: current_app.config["RATELIMIT_MAGIC_LINK"], deduct_when=lambda r: r.status_code == 303)
def request_sign_in_link(code: str):
    organization = services.find_organization(code)
    form = SignInLinkRequestForm()
    if form.validate_on_submit():
        services.request_sign_in_link(organization, form.link_email.data)
        db.session.commit()
        flash(
            _(
                "入力されたアドレスが登録されている場合、ログイン用のリンクをお送りしました。"
                "メールが届かない場合は、迷惑メールフォルダもご確認ください。"
            ),
            "success",
        )
        return redirect(url_for("auth.org_login", code=code), 303)
    return render_template("auth/org_login.html", form=OrgLoginForm(formdata=None), link_form=form, code=code), 422


@bp.route("/signin/<token>", methods=["GET", "POST"])
def sign_in_link(token: str):
    """A one-time sign-in link. GET only shows a button, so that mail scanners do not use it up."""
    try:
        services.sign_in_link_target(token)
    except TokenInvalid:
        return render_template("auth/link_invalid.html"), 404
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            user = services.use_sign_in_link(token)
        except TokenInvalid:
            db.session.rollback()
            return render_template("auth/link_invalid.html"), 404
        services.start_session(user)
        db.session.commit()
        return redirect(url_for("main.index"), 303)
    return render_template("auth/sign_in_link.html", form=form)
