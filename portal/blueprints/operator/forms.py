from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal import inbox
from portal.i18n import lazy_gettext as _l


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
