import hashlib

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal import mfa, sign_in
from portal.accounts import login_id_key, normalize_email, normalize_login_id, sign_in_page_for
from portal.blueprints.auth import bp, services
from portal.blueprints.auth.forms import (
    ChangePasswordForm,
    CurrentPasswordForm,
    EnrollTwoFactorForm,
    ForgotPasswordForm,
    LoginForm,
    OrgLoginForm,
    ResetPasswordForm,
    SignInLinkRequestForm,
    TwoFactorForm,
)
from portal.clock import utcnow
from portal.extensions import limiter
from portal.forms import EmptyForm
from portal.link_sessions import is_link_session
from portal.passwords import verify_password
from portal.requests import writes_on_get
from portal.security import safe_next
from portal.tokens import TokenInvalid


def _failed(response) -> bool:
    # A successful sign-in redirects; everything else counts towards the limits.
    return response.status_code != 303


def _safe_next(target: str | None) -> str | None:
    return safe_next(target)


def login_account_key() -> str:
    """Rate-limit key per account: the submitted address, hashed so no email sits in the store."""
    email = normalize_email(request.form.get("email"))
    return "login:" + hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()


def org_login_account_key() -> str:
    """Rate-limit key per account at an organization's URL: code and 受講者ID, hashed."""
    code = (request.view_args or {}).get("code", "")
    login_id = login_id_key(normalize_login_id(request.form.get("login_id")))
    digest = hashlib.sha256(f"{code}\x00{login_id}".encode("utf-8", "surrogatepass")).hexdigest()
    return "org-login:" + digest


def mfa_account_key() -> str:
    """Rate-limit key for the second step: the waiting account (or the session, without one)."""
    user_id = sign_in.pending_user_id()
    return f"mfa:{user_id}" if user_id is not None else "mfa:none"


def _signed_in(user, next_url: str | None = None):
    """After the password (or a sign-in link): the second step where the user has one, else signed in."""
    if sign_in.begin_sign_in(user, next_url):
        return redirect(url_for("auth.two_factor"), 303)
    return redirect(next_url or url_for("main.index"), 303)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_IP"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"],
    key_func=login_account_key,
    methods=["POST"],
    deduct_when=_failed,
)
def login():
    """Sign in; a session opened by a personal link signs in here to become a full one."""
    link_session = is_link_session()
    if current_user.is_authenticated and not link_session:
        return redirect(url_for("main.index"), 303)
    form = LoginForm(email=current_user.email if link_session else None)
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            return _signed_in(user, _safe_next(request.args.get("next")))
        form.password.errors.append(_("メールアドレスまたはパスワードが正しくありません。"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    form = EmptyForm()
    user = current_user._get_current_object()
    target = sign_in_page_for(user)
    if form.validate_on_submit():
        sign_in.end_all_sessions(user, keep_links=True)
        flash(_("ログアウトしました。"), "success")
        return redirect(target, 303)
    return redirect(url_for("auth.login"), 303)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_FORGOT"], methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
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
            return render_template("auth/reset_invalid.html"), 404
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
            user.end_all_sessions(keep_links=True)
            sign_in.start_session(user)
            flash(_("パスワードを設定しました。"), "success")
            return redirect(url_for("main.index"), 303)
        else:
            target = sign_in_page_for(user)
            services.change_password(user, form.new_password.data)
            sign_in.end_all_sessions(user, action="auth.sessions_ended_by_password_change")
            flash(
                _("パスワードを変更しました。すべての端末からログアウトしました。新しいパスワードでログインしてください。"),
                "success",
            )
            return redirect(target, 303)
    return render_template(
        "auth/change_password.html", form=form, first_change=first_change, compromised_form=EmptyForm()
    )


# --- learners: the organization's login URL, sign-in links, invitations ------------------------


@bp.route("/o/<code>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_IP"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"],
    key_func=org_login_account_key,
    methods=["POST"],
    deduct_when=_failed,
)
def org_login(code: str):
    """受講者ID sign-in. An unknown code looks like any organization: no name, the same refusal."""
    if current_user.is_authenticated and not is_link_session():
        return redirect(url_for("main.index"), 303)
    form = OrgLoginForm()
    if form.validate_on_submit():
        user = services.authenticate_learner(services.find_organization(code), form.login_id.data,
                                             form.password.data)
        if user is not None:
            return _signed_in(user)
        form.password.errors.append(_("受講者IDまたはパスワードが正しくありません。"))
    link_form = SignInLinkRequestForm() if services.offers_sign_in_links(code, utcnow()) else None
    return render_template("auth/org_login.html", form=form, link_form=link_form, code=code)


@bp.post("/o/<code>/link")
@limiter.limit(lambda: current_app.config["RATELIMIT_MAGIC_LINK"], deduct_when=lambda r: r.status_code == 303)
def request_sign_in_link(code: str):
    organization = services.find_organization(code)
    form = SignInLinkRequestForm()
    if form.validate_on_submit():
        services.request_sign_in_link(organization, form.link_email.data)
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
            return render_template("auth/link_invalid.html"), 404
        return _signed_in(user)
    return render_template("auth/sign_in_link.html", form=form)


# --- two-factor sign-in (#10) -----------------------------------------------------------------


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_IP"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"],
    key_func=mfa_account_key,
    methods=["POST"],
    deduct_when=_failed,
)
def two_factor():
    """The second step: the session is not signed in until the code is right."""
    if current_user.is_authenticated and not is_link_session():
        return redirect(url_for("main.index"), 303)
    user = sign_in.pending_mfa_user()
    if user is None:
        flash(_("ログインの有効時間が過ぎました。もう一度ログインしてください。"), "warning")
        return redirect(url_for("auth.login"), 303)
    form = TwoFactorForm()
    if form.validate_on_submit():
        used = services.verify_second_factor(user, form.code.data)
        if used is not None:
            next_url = sign_in.finish_sign_in(user)
            if used == "recovery":
                flash(
                    _("回復コードでログインしました。使った回復コードはもう使えません。残り%(n)d個です。",
                      n=len(user.recovery_code_hashes or [])),
                    "warning",
                )
            if user.recovery_codes_revoked_at is not None:
                flash(str(services.RECOVERY_CODES_REVOKED), "warning")
            return redirect(_safe_next(next_url) or url_for("main.index"), 303)
        form.code.errors.append(_("確認コードが正しくないか、すでに使われています。"))
        return render_template("auth/two_factor.html", form=form), 422
    return render_template("auth/two_factor.html", form=form)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
@writes_on_get
def mfa_setup():
    """Enroll an authenticator app (QR code), or see that two-factor sign-in is on and turn it off."""
    user = current_user._get_current_object()
    if user.mfa_enabled:
        return render_template(
            "auth/mfa_status.html",
            form=CurrentPasswordForm(),
            remaining=len(user.recovery_code_hashes or []),
            required=mfa.mfa_required(user),
        )
    secret, renewed = services.enrollment_secret(user)
    form = EnrollTwoFactorForm()
    status = 200
    if form.validate_on_submit():
        if renewed:
            # A new secret replaced the expired one: this page is answered 200 so that the request keeps it.
            form.code.errors.append(_("時間が経ったため、新しいQRコードに替えました。アプリで読み取り直してから、"
                                      "表示される確認コードを入力してください。"))
        else:
            codes = services.enroll_mfa(user, secret, form.code.data)
            if codes is not None:
                # Shown once, in this response only: nothing stores them in clear.
                return render_template("auth/recovery_codes.html", codes=codes, enrolled=True)
            form.code.errors.append(_("確認コードが正しくありません。アプリの時刻設定も確認してください。"))
            status = 422
    uri = mfa.provisioning_uri(secret, user)
    return (
        render_template(
            "auth/mfa_setup.html",
            form=form,
            secret=secret,
            qr=mfa.qr_data_uri(uri),
            required=mfa.mfa_required(user),
        ),
        status,
    )


def _mfa_password_action(action):
    user = current_user._get_current_object()
    form = CurrentPasswordForm()
    if not user.mfa_enabled:
        return redirect(url_for("auth.mfa_setup"), 303)
    if form.validate_on_submit():
        if verify_password(user.password_hash, form.current_password.data):
            return action(user)
        form.current_password.errors.append(_("現在のパスワードが正しくありません。"))
    return (
        render_template(
            "auth/mfa_status.html",
            form=form,
            remaining=len(user.recovery_code_hashes or []),
            required=mfa.mfa_required(user),
        ),
        422,
    )


@bp.post("/account/two-factor/disable")
@login_required
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"], key_func=lambda: f"mfa-off:{current_user.id}",
               deduct_when=_failed)
def mfa_disable():
    """Turn two-factor sign-in off with the current password; re-enrolling starts from a new secret."""

    def disable(user):
        services.disable_mfa(user)
        if mfa.mfa_required(user):
            flash(_("2段階認証を解除しました。続けるには、もう一度設定してください。"), "warning")
        else:
            flash(_("2段階認証を解除しました。"), "success")
        return redirect(url_for("auth.mfa_setup"), 303)

    return _mfa_password_action(disable)


@bp.post("/account/two-factor/recovery-codes")
@login_required
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN_PER_ACCOUNT"], key_func=lambda: f"mfa-rc:{current_user.id}",
               deduct_when=lambda r: r.status_code != 200)
def mfa_recovery_codes():
    """New recovery codes with the current password; the old ones stop working."""

    def regenerate(user):
        codes = services.regenerate_recovery_codes(user)
        return render_template("auth/recovery_codes.html", codes=codes, enrolled=False)

    return _mfa_password_action(regenerate)


@bp.post("/password/compromised")
@login_required
def report_compromised():
    """「パスワードを知られたかもしれない」(Art. 13-4): end every session, lock the old password, tell the operator."""
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.change_password"), 303)
    user = current_user._get_current_object()
    has_email = bool(user.email)
    target = sign_in_page_for(user)
    operator_told = services.report_compromised_password(user)
    sign_in.sign_out()
    done = _("すべての端末からログアウトし、これまでのパスワードを使えないようにしました。")
    if has_email:
        next_step = _("登録のメールアドレスに再設定のご案内を送りました。")
    else:
        next_step = _("組織の管理者に新しい初期パスワードの発行を依頼してください。")
    if operator_told:
        told = _("運営事務局にも連絡しました。")
    else:
        told = _("運営事務局への連絡メールは送れませんでした。お手数ですが、運営事務局にも直接お知らせください。")
    flash(done + next_step + told, "warning")
    return redirect(target, 303)
