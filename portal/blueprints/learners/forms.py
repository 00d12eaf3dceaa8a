from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.accounts import email_taken, login_id_taken, normalize_email
from portal.blueprints.learners import fields
from portal.i18n import lazy_gettext as _l
from portal.ids import MAX_ID
from portal.models.learners import EMPLOYMENT_LABELS


def _optional_int(value):
    if value in (None, "", "None"):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return -1
    # Beyond the database's integer an id is simply unknown (SQLite would raise OverflowError).
    return number if abs(number) <= MAX_ID else -1


def employment_choices(blank_label):
    return [("", blank_label)] + [(str(k), str(v)) for k, v in EMPLOYMENT_LABELS.items()]


class LearnerForm(FlaskForm):
    login_id = StringField(
        fields.LABELS["login_id"],
        validators=fields.LOGIN_ID,
        filters=[fields.READ["login_id"]],
        description=_l("組織の中で重複しない番号や記号。先頭の0もそのまま使えます。大文字と小文字は区別しません。"),
        render_kw={"autocapitalize": "none", "autocomplete": "off"},
    )
    name = StringField(
        fields.LABELS["name"],
        validators=fields.NAME,
        filters=[fields.READ["name"]],
        description=_l("任意。個人名を登録せず受講者IDだけで運用することもできます。"),
    )
    email = StringField(
        fields.LABELS["email"],
        validators=fields.EMAIL,
        filters=[fields.READ["email"]],
        description=_l("任意。登録すると招待メールやログインリンクを送れます。"),
        render_kw={"inputmode": "email", "autocapitalize": "none", "autocomplete": "off"},
    )
    department_id = SelectField(fields.LABELS["department"], coerce=_optional_int, validate_choice=False)
    employment_type = SelectField(fields.LABELS["employment_type"], validators=fields.EMPLOYMENT_TYPE,
                                  validate_choice=False)
    # Only third parties that the operator approved for this organization can be chosen (Art. 14-1).
    third_party_id = SelectField(
        _l("所属する第三者(協力会社など)"),
        coerce=_optional_int,
        validate_choice=False,
        description=_l("自社の社員でない場合に選びます。選べるのは運営が利用を承諾した第三者だけです。"),
    )

    def __init__(self, *args, departments=(), tree=None, learner_id=None, third_parties=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.learner_id = learner_id
        self.third_party_id.choices = [(None, str(_l("(なし)")))] + [(p.id, p.name) for p in third_parties]
        self._third_party_ids = {p.id for p in third_parties}
        self.department_id.choices = [(None, str(_l("(部署なし)")))] + [
            (d.id, tree.path(d.id)) for d in departments
        ]
        self._department_ids = {d.id for d in departments}
        self.employment_type.choices = employment_choices(str(_l("(未設定)")))

    def validate_login_id(self, field):
        if field.data and login_id_taken(field.data.strip(), self.learner_id):
            raise ValidationError(fields.LOGIN_ID_TAKEN)

    def validate_email(self, field):
        email = normalize_email(field.data)
        if email and email_taken(email, self.learner_id):
            raise ValidationError(fields.EMAIL_TAKEN)

    def validate_department_id(self, field):
        if field.data is not None and field.data not in self._department_ids:
            raise ValidationError(_l("この部署は選べません。"))

    def validate_third_party_id(self, field):
        if field.data is not None and field.data not in self._third_party_ids:
            raise ValidationError(_l("承諾されていない第三者は選べません(利用規約第14条)。"))

    def data_for_service(self) -> dict:
        return {
            "login_id": self.login_id.data.strip(),
            "name": (self.name.data or "").strip(),
            "email": self.email.data,
            "department_id": self.department_id.data,
            "employment_type": self.employment_type.data or None,
        }


def _initial_password_field(label, required=False):
    return PasswordField(
        label,
        validators=fields.INITIAL_PASSWORD_REQUIRED if required else fields.INITIAL_PASSWORD,
        description=_l("受講者は最初のログインで自分のパスワードに変更します。"),
        render_kw={"autocomplete": "new-password"},
    )


class NewLearnerForm(LearnerForm):
    initial_password = _initial_password_field(fields.LABELS["initial_password"])
    send_invitation = BooleanField(_l("招待メールを送る(メールアドレスがある場合)"), default=True)


class InitialPasswordForm(FlaskForm):
    initial_password = _initial_password_field(_l("新しい初期パスワード"), required=True)


class FilterForm(FlaskForm):
    q = StringField(_l("検索(受講者ID・氏名・メール)"), validators=[Optional(), Length(max=100)])
    department = SelectField(_l("部署"), coerce=_optional_int, validate_choice=False)
    employment_type = SelectField(_l("雇用形態"), validate_choice=False)
    status = SelectField(_l("状態"), default="active", validate_choice=False)

    def __init__(self, *args, departments=(), tree=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.department.choices = [(None, str(_l("すべての部署")))] + [(d.id, tree.path(d.id)) for d in departments]
        self.employment_type.choices = employment_choices(str(_l("すべて")))
        self.status.choices = [("active", str(_l("有効"))), ("inactive", str(_l("無効"))), ("all", str(_l("すべて")))]


class DepartmentForm(FlaskForm):
    name = StringField(_l("部署名"), validators=fields.DEPARTMENT_NAME)
    parent_id = SelectField(_l("上位の部署"), coerce=_optional_int, validate_choice=False)


class DepartmentEditForm(FlaskForm):
    name = DepartmentForm.name
    managers = SelectMultipleField(
        _l("担当マネージャー"),
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l("マネージャーは担当する部署(下位の部署を含む)の受講者だけを見て操作できます。"),
    )


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSVファイル"),
        description=_l("Excelで「CSV(コンマ区切り)」または「CSV UTF-8」で保存したファイル。5MBまで。"),
    )
    sync = BooleanField(
        _l("同期モード:ファイルにない受講者を無効にする"),
        description=_l("退職者などを一括で無効にするときに使います。無効にした受講者は後から有効に戻せます。"),
    )
    invite = BooleanField(_l("新しく登録する受講者に招待メールを送る(メールアドレスがある場合)"))

    def validate_file(self, field):
        if not field.data or not getattr(field.data, "filename", ""):
            raise ValidationError(_l("CSVファイルを選んでください。"))


class ImportConfirmForm(FlaskForm):
    """The confirmation of an import. ``valid_rows_only`` is the administrator's explicit choice, from its own
    button, to import the rows without errors; ``refused`` names the refused rows they saw."""

    valid_rows_only = HiddenField()
    refused = HiddenField()

    @property
    def chose_valid_rows_only(self) -> bool:
        return self.valid_rows_only.data == "1"


class SignInSettingsForm(FlaskForm):
    magic_link_sign_in = BooleanField(
        _l("メールのログインリンクでのサインインを許可する"),
        description=_l(
            "メールアドレスを登録した受講者が、パスワードの代わりに一度だけ使えるリンクでログインできます。"
        ),
    )
