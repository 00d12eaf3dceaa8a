"""The billing forms: an invoice for a contract period, a credit note, a bank transfer and its assignment."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from portal.forms import IntegerField
from portal.i18n import lazy_gettext as _l


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
