from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from portal import inbox
from portal.accounts import email_taken, name_taken
from portal.blueprints.operator.services import STATUS_LABELS, ContractTerms
from portal.corporations import corporate_number_valid, looks_like_corporation, normalize_corporate_number
from portal.forms import IntegerField
from portal.models import OrganizationStatus


def _yen(label):
    return IntegerField(
        label,
        validators=[
            InputRequired(message=_l("金額を入力してください(0円の場合は0)。")),
            NumberRange(min=0, max=2_000_000_000, message=_l("金額は0円以上の整数で入力してください。")),
        ],
        description=_l("税抜・円"),
        render_kw={"inputmode": "numeric"},
    )


class ContractForm(FlaskForm):
    plan_name = StringField(
        _l("プラン名"), validators=[DataRequired(message=_l("プラン名を入力してください。")), Length(max=100)]
    )
    starts_on = DateField(_l("契約開始日"), validators=[InputRequired(message=_l("契約開始日を入力してください。"))])
    ends_on = DateField(_l("契約終了日"), validators=[InputRequired(message=_l("契約終了日を入力してください。"))])
    seat_limit = IntegerField(
        _l("上限利用者数"),
        validators=[
            InputRequired(message=_l("上限利用者数を入力してください。")),
            NumberRange(min=1, max=1_000_000, message=_l("上限利用者数は1以上の整数で入力してください。")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    annual_fee = _yen(_l("年間利用料"))
    overage_unit_price = _yen(_l("超過単価(1名あたり・契約期間)"))

    def validate_ends_on(self, field):
        if self.starts_on.data and field.data and field.data <= self.starts_on.data:
            raise ValidationError(_l("契約終了日は契約開始日より後の日付にしてください。"))

    def terms(self) -> ContractTerms:
        return ContractTerms(
            plan_name=self.plan_name.data.strip(),
            starts_on=self.starts_on.data,
            ends_on=self.ends_on.data,
            seat_limit=self.seat_limit.data,
            annual_fee=self.annual_fee.data,
            overage_unit_price=self.overage_unit_price.data,
        )


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


class CancelContractForm(FlaskForm):
    ground = SelectField(
        _l("解除の理由(利用規約)"), validators=[DataRequired(message=_l("解除の理由を選んでください。"))]
    )
    note = TextAreaField(_l("補足"), validators=[Optional(), Length(max=300)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from portal.termination import CANCELLATION_GROUNDS

        self.ground.choices = [SelectChoice("", _l("選んでください"))] + [
            SelectChoice(key, label) for key, label in CANCELLATION_GROUNDS.items()
        ]


class PurgeForm(FlaskForm):
    """The first operator's request to delete everything (a second operator approves)."""

    ground = SelectField(
        _l("削除の理由(利用規約)"),
        validators=[DataRequired(message=_l("削除の理由を一覧から選んでください。削除の依頼は行っていません。"))],
        description=_l("契約中の組織は、第16条(解除)または第19条(当社の削除権)の理由でだけ削除できます。"),
    )
    note = TextAreaField(
        _l("事実関係・補足"),
        validators=[Optional(), Length(max=500, message=_l("500文字以内で入力してください。"))],
        description=_l("第16条・第19条の理由では必須です。削除の記録に残ります。"),
    )
    confirm_name = StringField(
        _l("確認のため法人名を入力"),
        validators=[DataRequired(message=_l("確認のため法人名を入力してください。")), Length(max=200)],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from portal.deletion import grounds

        self.ground.choices = [SelectChoice("", _l("選んでください"))] + [
            SelectChoice(key, label) for key, label in grounds().items()
        ]
        # A value outside the list reaches the service, which refuses it in Japanese.
        self.ground.validate_choice = False


class ApproveDeletionForm(FlaskForm):
    """The second operator's approval."""

    confirm_name = StringField(
        _l("確認のため法人名を入力"),
        validators=[DataRequired(message=_l("確認のため法人名を入力してください。")), Length(max=200)],
    )


class ThirdPartyForm(FlaskForm):
    name = StringField(
        _l("第三者の名称"), validators=[DataRequired(message=_l("第三者の名称を入力してください。")), Length(max=200)]
    )
    note = StringField(_l("承諾の内容(書面の日付・範囲など)"), validators=[Optional(), Length(max=500)])


class MfaResetForm(FlaskForm):
    reason = TextAreaField(
        _l("リセットの理由と本人確認の方法"),
        validators=[
            DataRequired(message=_l("理由と本人確認の方法を入力してください。")),
            Length(max=200, message=_l("200文字以内で入力してください。")),
        ],
        description=_l(
            "監査ログに残ります。氏名などの個人情報は書かないでください(例: 端末紛失。登録電話番号への折り返しで確認)。"
        ),
    )
    identity_checked = BooleanField(
        _l("本人からの依頼であることを確認しました"),
        validators=[DataRequired(message=_l("本人確認を済ませてからリセットしてください。"))],
    )


class UserLookupForm(FlaskForm):
    class Meta:
        csrf = False

    email = StringField(_l("メールアドレス"), validators=[Optional(), Length(max=254)])


class InboxFilterForm(FlaskForm):
    kind = SelectField(
        _l("種類"),
        choices=[SelectChoice("", _l("すべて"))] + [SelectChoice(k, label) for k, label in inbox.KINDS.items()],
        validators=[Optional()],
    )
    state = SelectField(
        _l("状態"), choices=[SelectChoice(k, label) for k, label in inbox.STATES.items()], validators=[Optional()]
    )


class HandleItemForm(FlaskForm):
    note = TextAreaField(
        _l("メモ(任意)"),
        validators=[Optional(), Length(max=inbox.NOTE_MAX)],
        description=_l("何をしたかを残すと、あとで見た人にわかります。"),
    )


class CureNoticeForm(FlaskForm):
    """A cure notice (催告, Art. 16-3): what is in breach and what the organization must do."""

    breach = TextAreaField(
        _l("違反の内容と是正を求める事項"),
        validators=[
            DataRequired(message=_l("是正を求める違反の内容を入力してください。")),
            Length(max=2000, message=_l("2000文字以内で入力してください。")),
        ],
        description=_l("主管理者へのメールにそのまま記載されます(例: 2026年10月分の利用料金が未払いです)。"),
    )


class CureRecordForm(FlaskForm):
    note = StringField(
        _l("是正の内容"),
        validators=[Optional(), Length(max=500, message=_l("500文字以内で入力してください。"))],
    )


class SubcontractorForm(FlaskForm):
    name = StringField(
        _l("委託先の名称"),
        validators=[DataRequired(message=_l("委託先の名称を入力してください。")), Length(max=200)],
    )
    purpose = StringField(
        _l("委託する業務"),
        validators=[DataRequired(message=_l("委託する業務を入力してください。")), Length(max=500)],
    )
    location = StringField(
        _l("所在地・国"),
        validators=[DataRequired(message=_l("所在地と国を入力してください(例: 東京都・日本)。")), Length(max=200)],
    )
