"""The operator's notice forms: publish, correct, withdraw, an incident's update, the addresses for post."""

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
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.i18n import lazy_gettext as _l


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
