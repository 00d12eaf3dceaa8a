from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from portal import inbox
from portal.forms import IntegerField


class InvoiceForm(FlaskForm):
    period_start = DateField(_l("請求期間(開始)"), validators=[InputRequired(message=_l("開始日を入力してください。"))])
    period_end = DateField(_l("請求期間(終了)"), validators=[InputRequired(message=_l("終了日を入力してください。"))])
    due_on = DateField(_l("お支払期限"), validators=[InputRequired(message=_l("お支払期限を入力してください。"))])
    overage_seats = IntegerField(
        _l("超過人数"),
        validators=[
            InputRequired(message=_l("超過人数を入力してください(ない場合は0)。")),
            NumberRange(min=0, max=1_000_000, message=_l("超過人数は0以上の整数で入力してください。")),
        ],
        description=_l("期間中の月間最大利用者数から計算した値を初期表示しています。"),
        render_kw={"inputmode": "numeric"},
    )

    def validate_period_end(self, field):
        if self.period_start.data and field.data and field.data <= self.period_start.data:
            raise ValidationError(_l("請求期間の終了日は開始日より後の日付にしてください。"))


class CreditNoteForm(FlaskForm):
    amount = IntegerField(
        _l("返還する金額(税抜)"),
        validators=[
            InputRequired(message=_l("返還する金額を入力してください。")),
            NumberRange(min=1, max=1_000_000_000, message=_l("返還する金額は1円以上の整数で入力してください。")),
        ],
        description=_l("税抜・円。消費税は請求書と同じ税率で計算します。"),
        render_kw={"inputmode": "numeric"},
    )
    reason = TextAreaField(
        _l("返還の理由"),
        validators=[
            DataRequired(message=_l("返還の理由を入力してください。")),
            Length(max=500, message=_l("500文字以内で入力してください。")),
        ],
        description=_l("例: 点検による1か月を超える停止期間の利用料の返還(利用規約第20条第1項)"),
    )


class NoticeForm(FlaskForm):
    kind = SelectField(
        _l("種類"),
        choices=[
            SelectChoice("general", _l("お知らせ")),
            SelectChoice("maintenance", _l("メンテナンス")),
            SelectChoice("incident", _l("障害")),
            SelectChoice("service_end", _l("サービス提供の終了")),
            SelectChoice("terms_revision", _l("利用規約の改定")),
        ],
        validators=[DataRequired(message=_l("種類を選んでください。"))],
    )
    title = StringField(_l("件名"), validators=[DataRequired(message=_l("件名を入力してください。")), Length(max=200)])
    body = TextAreaField(
        _l("本文"), validators=[DataRequired(message=_l("本文を入力してください。")), Length(max=20000)]
    )
    audience = SelectField(
        _l("送信先"),
        choices=[SelectChoice("all", _l("すべての組織")), SelectChoice("chosen", _l("選んだ組織"))],
        validators=[DataRequired()],
    )
    organizations = SelectMultipleField(_l("組織(選んだ組織に送る場合)"), coerce=int, validators=[Optional()])
    starts_at = DateTimeLocalField(_l("メンテナンス開始(日本時間)"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    ends_at = DateTimeLocalField(_l("メンテナンス終了(日本時間)"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    service_ends_on = DateField(
        _l("サービス提供の終了日"),
        validators=[Optional()],
        description=_l("通知から3か月以上先の日付(利用規約第21条)"),
    )

    def validate_organizations(self, field):
        if self.audience.data == "chosen" and not field.data:
            raise ValidationError(_l("送信先の組織を1つ以上選んでください。"))

    def validate_ends_at(self, field):
        # Empty dates stop at Optional(); the service refuses a maintenance notice without its window.
        if self.kind.data == "maintenance" and self.starts_at.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("メンテナンスの終了日時は開始日時より後にしてください。"))


class NoticeCorrectionForm(FlaskForm):
    """A correction of a published notice: the text and, for maintenance, the window (portal/notices.py)."""

    title = StringField(_l("件名"), validators=[DataRequired(message=_l("件名を入力してください。")), Length(max=200)])
    body = TextAreaField(
        _l("本文"), validators=[DataRequired(message=_l("本文を入力してください。")), Length(max=20000)]
    )
    starts_at = DateTimeLocalField(_l("メンテナンス開始(日本時間)"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    ends_at = DateTimeLocalField(
        _l("メンテナンス終了(日本時間)"),
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        description=_l("実施中のメンテナンスを早く終える場合は、現在時刻を入力してください。"),
    )
    service_ends_on = DateField(_l("サービス提供の終了日"), validators=[Optional()])
    reason = StringField(_l("訂正の理由(履歴に残ります)"), validators=[Optional(), Length(max=500)])
    renotify = BooleanField(
        _l("再通知する"), description=_l("チェックすると、訂正後の内容を主管理者にもう一度メールで送ります。")
    )

    def validate_ends_at(self, field):
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("メンテナンスの終了日時は開始日時より後にしてください。"))


class NoticeWithdrawForm(FlaskForm):
    reason = StringField(_l("取り下げの理由(履歴に残ります)"), validators=[Optional(), Length(max=500)])
    renotify = BooleanField(
        _l("再通知する"), description=_l("チェックすると、取り下げたことを主管理者にメールで知らせます。")
    )


class IncidentUpdateForm(FlaskForm):
    status = SelectField(
        _l("状況"),
        choices=[
            SelectChoice("investigating", _l("調査中")),
            SelectChoice("identified", _l("原因特定")),
            SelectChoice("monitoring", _l("経過観察中")),
            SelectChoice("resolved", _l("解決済み")),
        ],
        validators=[DataRequired()],
    )
    body = TextAreaField(
        _l("内容"), validators=[DataRequired(message=_l("経過の内容を入力してください。")), Length(max=20000)]
    )


class AddressExportForm(FlaskForm):
    organizations = SelectMultipleField(
        _l("組織"), coerce=int, validators=[DataRequired(message=_l("組織を1つ以上選んでください。"))]
    )


class LegalDocumentForm(FlaskForm):
    kind = SelectField(
        _l("文書"),
        choices=[
            SelectChoice("terms", _l("利用規約")),
            SelectChoice("privacy", _l("個人情報の取扱について")),
            SelectChoice("security", _l("セキュリティホワイトペーパー")),
        ],
        validators=[DataRequired()],
    )
    version = StringField(
        _l("版"),
        validators=[DataRequired(message=_l("版の名前を入力してください(例: 2027年4月1日改定)。")), Length(max=40)],
    )
    effective_on = DateField(_l("施行日"), validators=[InputRequired(message=_l("施行日を入力してください。"))])
    body = TextAreaField(
        _l("本文"), validators=[DataRequired(message=_l("本文を入力してください。")), Length(max=200000)]
    )


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


class PaymentForm(FlaskForm):
    """A bank transfer as the statement shows it (the payments screen and the invoice page)."""

    received_on = DateField(
        _l("入金日"),
        validators=[InputRequired(message=_l("入金日を入力してください(例: 2027-04-30)。"))],
        description=_l("通帳・明細の日付。未来の日付は指定できません。"),
    )
    amount = IntegerField(
        _l("入金額(円)"),
        validators=[
            InputRequired(message=_l("入金額を半角数字(円)で入力してください。")),
            NumberRange(min=1, max=2_000_000_000, message=_l("入金額は1円以上の整数で入力してください。")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    payer_name = StringField(
        _l("振込名義"),
        validators=[Length(max=100, message=_l("振込名義は100文字以内で入力してください。"))],
        description=_l("明細に印字されたとおりにカタカナ・英数字で(例: カ)エー)。半角カナも受け付けます。"),
    )
    note = StringField(
        _l("メモ"), validators=[Optional(), Length(max=200, message=_l("200文字以内で入力してください。"))]
    )
    allow_overpayment = BooleanField(_l("残高を超える場合は過入金として記録する(差額は返金)"))


class NewPaymentForm(PaymentForm):
    invoice_number = StringField(
        _l("請求書番号(わかる場合)"),
        validators=[Optional(), Length(max=32, message=_l("請求書番号は32文字以内で入力してください。"))],
        description=_l("空のままなら未割当として記録し、次の画面で候補から割り当てます。"),
    )


class AssignPaymentForm(FlaskForm):
    invoice_number = StringField(
        _l("請求書番号"),
        validators=[DataRequired(message=_l("割り当てる請求書の番号を入力してください。")), Length(max=32)],
    )
    allow_overpayment = BooleanField(_l("残高を超える場合は過入金として記録する(差額は返金)"))


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
