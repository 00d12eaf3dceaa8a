from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.deletion import grounds
from portal.i18n import lazy_gettext as _l
from portal.termination import CANCELLATION_GROUNDS

# --- the operator's view ----------------------------------------------------------------------


class CancelContractForm(FlaskForm):
    ground = SelectField(
        _l("解除の理由(利用規約)"), validators=[DataRequired(message=_l("解除の理由を選んでください。"))]
    )
    note = TextAreaField(_l("補足"), validators=[Optional(), Length(max=300)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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


# --- the organization's view ------------------------------------------------------------------


class TerminationRequestForm(FlaskForm):
    end_on = DateField(_l("利用終了日"), validators=[InputRequired(message=_l("利用終了日を入力してください。"))])
    reason = TextAreaField(_l("理由(任意)"), validators=[Optional(), Length(max=500)])
