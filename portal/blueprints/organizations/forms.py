import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from portal.accounts import ADDRESS_UNAVAILABLE, email_taken, name_taken
from portal.addresses import PHONE, fold_digits
from portal.blueprints.organizations.services import ProfileData
from portal.corporations import corporate_number_valid, looks_like_corporation, normalize_corporate_number
from portal.forms import AddressFields, ContractForm
from portal.i18n import lazy_gettext as _l
from portal.models import OrganizationStatus
from portal.organizations import STATUS_LABELS

# --- the operator's view ----------------------------------------------------------------------


class AdminForm(FlaskForm):
    admin_name = StringField(
        _l("管理者氏名"), validators=[DataRequired(message=_l("管理者の氏名を入力してください。")), Length(max=100)]
    )
    admin_email = EmailField(
        _l("管理者メールアドレス"),
        validators=[
            DataRequired(message=_l("管理者のメールアドレスを入力してください。")),
            Length(max=254),
            Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
        ],
        description=_l("パスワード設定用の招待メールが届きます。"),
        render_kw={"autocapitalize": "none"},
    )

    def validate_admin_email(self, field):
        if email_taken(field.data):
            raise ValidationError(_l("このメールアドレスはすでに登録されています。"))


class OrganizationForm(ContractForm, AdminForm):
    name = StringField(
        _l("法人名"),
        validators=[DataRequired(message=_l("法人名を入力してください。")), Length(max=200)],
        description=_l("本サービスは法人のみのご契約です(利用規約第2条)。"),
    )
    without_legal_form = BooleanField(
        _l("法人格なしで登録する"),
        description=_l("法人名に「株式会社」「合同会社」などの法人格が含まれていないことを確認したうえで登録します。"),
    )
    corporate_number = StringField(
        _l("法人番号"),
        validators=[Optional()],
        filters=[normalize_corporate_number],
        description=_l("13桁の数字です。国税庁法人番号公表サイトで確認できます。わからなければ空欄のまま登録できます。"),
    )

    def validate_name(self, field):
        if name_taken(field.data):
            raise ValidationError(_l("同じ法人名の組織がすでに登録されています。"))
        # A warning the operator may confirm past: some customers' registered names carry no legal form.
        if not looks_like_corporation(field.data) and not self.without_legal_form.data:
            raise ValidationError(
                _l(
                    "法人名に法人格(「株式会社」「合同会社」「一般社団法人」など)が含まれていません。"
                    "正式名称を確認し、法人格なしで登録する場合は「法人格なしで登録する」にチェックしてください。"
                )
            )

    def validate_corporate_number(self, field):
        if not field.data:
            return
        if not field.data.isdigit() or len(field.data) != 13:
            raise ValidationError(_l("法人番号は13桁の数字で入力してください。"))
        if not corporate_number_valid(field.data):
            raise ValidationError(
                _l("法人番号が正しくありません(チェックデジットが一致しません)。番号をご確認ください。")
            )


class StatusForm(FlaskForm):
    status = SelectField(
        _l("状態"),
        choices=[SelectChoice(str(s), label) for s, label in STATUS_LABELS.items()],
        validators=[DataRequired()],
    )
    reason = TextAreaField(
        _l("理由"),
        validators=[Length(max=500)],
        description=_l("利用停止・契約終了の場合は必須です。組織の利用者に表示されます。"),
    )

    def validate_reason(self, field):
        if self.status.data != OrganizationStatus.ACTIVE and not (field.data or "").strip():
            raise ValidationError(_l("利用停止・契約終了には理由を入力してください。"))


class RenewalForm(ContractForm):
    """The next contract period (by default the latest period's terms for a year) and its invoice's due date."""

    due_on = DateField(
        _l("請求書のお支払期限"), validators=[InputRequired(message=_l("お支払期限を入力してください。"))]
    )


class OrganizationFilterForm(FlaskForm):
    q = StringField(_l("法人名・コード・プラン"), validators=[Optional(), Length(max=100)])
    status = SelectField(
        _l("状態"),
        choices=[SelectChoice("", _l("すべて"))] + [SelectChoice(str(s), label) for s, label in STATUS_LABELS.items()],
        validators=[Optional()],
    )
    over_limit = BooleanField(_l("上限超過のみ"))


# --- the organization's view (and the handover, which the operator may start too) ------------------


class ProfileForm(AddressFields, FlaskForm):
    organization_name = StringField(
        _l("法人名"), validators=[DataRequired(message=_l("法人名を入力してください。")), Length(max=200)]
    )
    phone = StringField(
        _l("電話番号"),
        validators=[DataRequired(message=_l("電話番号を入力してください。"))],
        filters=[fold_digits],
        description=_l("例: 03-1234-5678"),
        render_kw={"inputmode": "tel", "autocomplete": "tel"},
    )
    admin_name = StringField(
        _l("管理者氏名"), validators=[DataRequired(message=_l("管理者の氏名を入力してください。")), Length(max=100)]
    )

    def validate_phone(self, field):
        digits = re.sub(r"\D", "", field.data or "")
        if not PHONE.fullmatch(field.data or "") or len(digits) not in (10, 11):
            raise ValidationError(
                _l("電話番号は「03-1234-5678」のように、0から始まる10桁または11桁で入力してください。")
            )

    def data_for_service(self) -> ProfileData:
        return ProfileData(
            organization_name=self.organization_name.data.strip(),
            postal_code=self.postal_code.data,
            prefecture=self.prefecture.data,
            address_line1=self.address_line1.data.strip(),
            address_line2=(self.address_line2.data or "").strip(),
            phone=self.phone.data,
            admin_name=self.admin_name.data.strip(),
        )


class MemberForm(FlaskForm):
    name = StringField(_l("氏名"), validators=[DataRequired(message=_l("氏名を入力してください。")), Length(max=100)])
    email = EmailField(
        _l("メールアドレス"),
        validators=[
            DataRequired(message=_l("メールアドレスを入力してください。")),
            Length(max=254),
            Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
        ],
        render_kw={"autocapitalize": "none"},
    )
    role = SelectField(
        _l("権限"),
        choices=[SelectChoice("org_admin", _l("管理者")), SelectChoice("manager", _l("マネージャー"))],
        validators=[DataRequired(message=_l("権限を選んでください。"))],
    )

    def validate_email(self, field):
        if email_taken(field.data):
            raise ValidationError(ADDRESS_UNAVAILABLE)


class HandoverForm(FlaskForm):
    successor_name = StringField(
        _l("後任者の氏名"), validators=[DataRequired(message=_l("後任者の氏名を入力してください。")), Length(max=100)]
    )
    successor_email = EmailField(
        _l("後任者のメールアドレス"),
        validators=[
            DataRequired(message=_l("後任者のメールアドレスを入力してください。")),
            Length(max=254),
            Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
        ],
        description=_l("組織の管理者・マネージャーのアドレスか、新しいアドレスを指定できます。"),
        render_kw={"autocapitalize": "none"},
    )
    notes = TextAreaField(
        _l("引き継ぎメモ"),
        validators=[Length(max=10000)],
        description=_l("運営事務局から受け取った操作に必要な情報などを書いてください(利用規約第12条)。"),
    )
    predecessor_after = SelectField(
        _l("引き継ぎ後の前任者"),
        choices=[
            SelectChoice("end", _l("利用を終了する(ログインできなくなります)")),
            SelectChoice("manager", _l("マネージャーになる")),
            SelectChoice("org_admin", _l("管理者のまま残る")),
        ],
        validators=[DataRequired()],
    )
