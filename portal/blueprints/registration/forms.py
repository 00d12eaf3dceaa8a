from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.blueprints.registration import services
from portal.blueprints.registration.services import SERVICE_LABELS, STATUS_LABELS, ApplicationData
from portal.forms import AddressFields, ContractForm, IntegerField
from portal.i18n import lazy_gettext as _l

_email_validators = [
    Length(max=254, message=_l("メールアドレスは254文字以内で入力してください。")),
    Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
]


def _check_email(field) -> None:
    if services.is_disposable(field.data or ""):
        raise ValidationError(
            _l("使い捨てのメールアドレスはご利用いただけません。会社のメールアドレスを入力してください。")
        )


class ApplicationForm(AddressFields, FlaskForm):
    corporate_name = StringField(
        _l("法人名"),
        validators=[DataRequired(message=_l("法人名を入力してください。")), Length(max=200)],
        description=_l("本サービスは法人のみのご契約です(利用規約第2条)。例: 株式会社ワークストラスト"),
        render_kw={"autocomplete": "organization"},
    )
    corporate_number = StringField(
        _l("法人番号"),
        validators=[DataRequired(message=_l("法人番号を入力してください。"))],
        filters=[services.normalize_corporate_number],
        description=_l("13桁の数字です。国税庁法人番号公表サイトで確認できます。"),
        render_kw={"inputmode": "numeric", "maxlength": 20},
    )
    applicant_name = StringField(
        _l("お申込み担当者の氏名"),
        validators=[DataRequired(message=_l("お申込み担当者の氏名を入力してください。")), Length(max=100)],
        render_kw={"autocomplete": "name"},
    )
    applicant_department = StringField(_l("お申込み担当者の部署"), validators=[Optional(), Length(max=100)])
    applicant_email = EmailField(
        _l("お申込み担当者のメールアドレス"),
        validators=[DataRequired(message=_l("お申込み担当者のメールアドレスを入力してください。")), *_email_validators],
        description=_l("確認のためのメールをお送りします。"),
        render_kw={"autocapitalize": "none", "autocomplete": "email"},
    )
    admin_name = StringField(
        _l("管理者の氏名"),
        validators=[DataRequired(message=_l("管理者の氏名を入力してください。")), Length(max=100)],
        description=_l("ご利用開始後、操作画面を管理する方です(お申込み担当者と同じでも構いません)。"),
    )
    admin_department = StringField(_l("管理者の部署"), validators=[Optional(), Length(max=100)])
    admin_email = EmailField(
        _l("管理者のメールアドレス"),
        validators=[DataRequired(message=_l("管理者のメールアドレスを入力してください。")), *_email_validators],
        description=_l("承認後、パスワード設定用の招待メールが届きます。"),
        render_kw={"autocapitalize": "none"},
    )
    expected_learners = IntegerField(
        _l("受講予定人数"),
        validators=[
            InputRequired(message=_l("受講予定人数を入力してください。")),
            NumberRange(min=1, max=100_000, message=_l("受講予定人数は1以上100,000以下の整数で入力してください。")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    desired_start_on = DateField(
        _l("利用開始希望日"),
        validators=[InputRequired(message=_l("利用開始希望日を入力してください。"))],
    )
    services = SelectMultipleField(
        _l("ご利用になるサービス"),
        choices=[SelectChoice(str(kind), label) for kind, label in SERVICE_LABELS.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
    )
    accept_terms = BooleanField(_l("利用規約に同意します"))
    declare_antisocial = BooleanField(_l("上記の反社会的勢力の排除に関する表明・保証に同意します(利用規約第24条)"))
    # Honeypot: hidden from people by CSS; a bot that fills it is answered politely and nothing is stored.
    website = StringField(_l("ウェブサイト(入力しないでください)"), render_kw={"autocomplete": "off", "tabindex": "-1"})

    def validate_corporate_number(self, field):
        if not field.data.isdigit() or len(field.data) != 13:
            raise ValidationError(_l("法人番号は13桁の数字で入力してください。"))
        if not services.corporate_number_valid(field.data):
            raise ValidationError(
                _l("法人番号が正しくありません(チェックデジットが一致しません)。番号をご確認ください。")
            )

    def validate_corporate_name(self, field):
        if not services.looks_like_corporation(field.data):
            raise ValidationError(
                _l(
                    "本サービスは法人のみお申込みいただけます(利用規約第2条)。"
                    "「株式会社」「合同会社」「一般社団法人」などの法人格を含む正式名称を入力してください。"
                )
            )

    def validate_applicant_email(self, field):
        _check_email(field)

    def validate_admin_email(self, field):
        _check_email(field)

    def validate_desired_start_on(self, field):
        if field.data and field.data < services.earliest_start():
            raise ValidationError(_l("利用開始希望日は今日以降の日付にしてください。"))

    def validate_services(self, field):
        if not field.data:
            raise ValidationError(_l("ご利用になるサービスを1つ以上選んでください。"))

    def validate_accept_terms(self, field):
        if not field.data:
            raise ValidationError(_l("お申込みには利用規約への同意が必要です。"))

    def validate_declare_antisocial(self, field):
        if not field.data:
            raise ValidationError(_l("お申込みには反社会的勢力ではないことの表明・保証が必要です(利用規約第24条)。"))

    def data_for_service(self) -> ApplicationData:
        return ApplicationData(
            corporate_name=self.corporate_name.data,
            corporate_number=self.corporate_number.data,
            postal_code=self.postal_code.data,
            prefecture=self.prefecture.data,
            address_line1=self.address_line1.data,
            address_line2=self.address_line2.data or "",
            applicant_name=self.applicant_name.data,
            applicant_department=self.applicant_department.data or "",
            applicant_email=self.applicant_email.data,
            admin_name=self.admin_name.data,
            admin_department=self.admin_department.data or "",
            admin_email=self.admin_email.data,
            expected_learners=self.expected_learners.data,
            desired_start_on=self.desired_start_on.data,
            services=list(self.services.data),
            antisocial_declared=bool(self.declare_antisocial.data),
        )


class ApprovalForm(ContractForm):
    """The contract terms the operator completes; starts prefilled from the application."""


class RejectionForm(FlaskForm):
    reason = TextAreaField(
        _l("お断りの理由"),
        validators=[DataRequired(message=_l("お断りの理由を入力してください。")), Length(max=1000)],
        description=_l("お申込み担当者へのメールにそのまま記載されます。丁寧な表現でご記入ください。"),
    )


class ScreeningForm(FlaskForm):
    """The operator's anti-social-forces screening (反社チェック, Art. 24-2) of an application."""

    result = SelectField(
        _l("確認結果"),
        choices=[SelectChoice("", _l("選んでください"))]
        + [SelectChoice(str(k), label) for k, label in services.SCREENING_LABELS.items()],
        validators=[DataRequired(message=_l("確認結果を選んでください。"))],
    )
    screened_on = DateField(_l("確認日"), validators=[InputRequired(message=_l("確認日を入力してください。"))])
    note = TextAreaField(
        _l("確認の方法・メモ"),
        validators=[Optional(), Length(max=1000, message=_l("1000文字以内で入力してください。"))],
        description=_l("確認に使った資料やデータベースなど。懸念ありの場合は必須です。"),
    )


class ApplicationFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(
        _l("状態"),
        choices=[SelectChoice("", _l("すべて"))] + [SelectChoice(str(s), label) for s, label in STATUS_LABELS.items()],
        validators=[Optional()],
    )
    q = StringField(_l("法人名・法人番号・メールアドレス"), validators=[Optional(), Length(max=100)])
