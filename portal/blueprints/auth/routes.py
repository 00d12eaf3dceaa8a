from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.blueprints.auth import bp, services
from portal.blueprints.auth.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, ResetPasswordForm
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
    if form.validate_on_submit():
        services.end_all_sessions(current_user._get_current_object())
        db.session.commit()
        flash(_("ログアウトしました。"), "success")
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
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current_password.data):
            form.current_password.errors.append(_("現在のパスワードが正しくありません。"))
        else:
            services.change_password(user, form.new_password.data)
            services.end_all_sessions(user, action="auth.sessions_ended_by_password_change")
            db.session.commit()
            flash(
                _("パスワードを変更しました。すべての端末からログアウトしました。新しいパスワードでログインしてください。"),
                "success",
            )
            return redirect(url_for("auth.login"), 303)
    return render_template("auth/change_password.html", form=form)
