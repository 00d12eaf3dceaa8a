from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from portal.forms import NewPasswordMixin


class LoginForm(FlaskForm):
    email = StringField(
        _l("メールアドレス"),
        validators=[DataRequired(message=_l("メールアドレスを入力してください。")), Length(max=254)],
        render_kw={"autocomplete": "username", "inputmode": "email", "autocapitalize": "none"},
    )
    password = PasswordField(
        _l("パスワード"),
        validators=[DataRequired(message=_l("パスワードを入力してください。")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        _l("メールアドレス"),
        validators=[
            DataRequired(message=_l("メールアドレスを入力してください。")),
            Length(max=254),
            Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
        ],
        render_kw={"autocomplete": "email", "autocapitalize": "none"},
    )


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
    password = PasswordField(
        _l("パスワード"),
        validators=[DataRequired(message=_l("パスワードを入力してください。")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class SignInLinkRequestForm(FlaskForm):
    link_email = EmailField(
        _l("メールアドレス"),
        validators=[
            DataRequired(message=_l("メールアドレスを入力してください。")),
            Length(max=254),
            Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
        ],
        render_kw={"autocomplete": "email", "autocapitalize": "none"},
    )
