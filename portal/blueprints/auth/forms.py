from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from portal.forms import NewPasswordMixin
from portal.i18n import lazy_gettext as _l


def _password_field() -> PasswordField:
    """The password of a sign-in form (any length we accept; the policy applies when it is set)."""
    return PasswordField(
        _l("パスワード"),
        validators=[DataRequired(message=_l("パスワードを入力してください。")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


def _email_address_field() -> EmailField:
    """A well-formed address to send a link to (reset, sign-in link)."""
    return EmailField(
        _l("メールアドレス"),
        validators=[
            DataRequired(message=_l("メールアドレスを入力してください。")),
            Length(max=254),
            Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
        ],
        render_kw={"autocomplete": "email", "autocapitalize": "none"},
    )


class LoginForm(FlaskForm):
    email = StringField(
        _l("メールアドレス"),
        validators=[DataRequired(message=_l("メールアドレスを入力してください。")), Length(max=254)],
        render_kw={"autocomplete": "username", "inputmode": "email", "autocapitalize": "none"},
    )
    password = _password_field()


class ForgotPasswordForm(FlaskForm):
    email = _email_address_field()


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    pass


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current_password = PasswordField(
        _l("現在のパスワード"),
        validators=[DataRequired(message=_l("現在のパスワードを入力してください。")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class OrgLoginForm(FlaskForm):
    """Sign-in at the organization's URL with 受講者ID, for learners without email."""

    login_id = StringField(
        _l("受講者ID"),
        validators=[DataRequired(message=_l("受講者IDを入力してください。")), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "autocorrect": "off"},
    )
    password = _password_field()


class SignInLinkRequestForm(FlaskForm):
    link_email = _email_address_field()


class TwoFactorForm(FlaskForm):
    """The second step of sign-in: a code from the authenticator app, or a recovery code."""

    code = StringField(
        _l("確認コード"),
        validators=[DataRequired(message=_l("確認コードを入力してください。")), Length(max=32)],
        description=_l("認証アプリに表示される6桁の数字。アプリを使えないときは、回復コードを入力できます。"),
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "none", "autocorrect": "off"},
    )


class EnrollTwoFactorForm(FlaskForm):
    code = StringField(
        _l("確認コード"),
        validators=[DataRequired(message=_l("確認コードを入力してください。")), Length(max=32)],
        description=_l("認証アプリに表示された6桁の数字を入力してください。"),
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autocorrect": "off"},
    )


class CurrentPasswordForm(FlaskForm):
    """An action that needs the current password (turning two-factor sign-in off, new recovery codes)."""

    current_password = PasswordField(
        _l("現在のパスワード"),
        validators=[DataRequired(message=_l("現在のパスワードを入力してください。")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )

