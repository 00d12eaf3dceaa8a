from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from portal.i18n import lazy_gettext as _l

# --- the operator's view ----------------------------------------------------------------------


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


class ThirdPartyForm(FlaskForm):
    name = StringField(
        _l("第三者の名称"), validators=[DataRequired(message=_l("第三者の名称を入力してください。")), Length(max=200)]
    )
    note = StringField(_l("承諾の内容(書面の日付・範囲など)"), validators=[Optional(), Length(max=500)])


# --- the organization's view ------------------------------------------------------------------


class ThirdPartyMemberForm(FlaskForm):
    learner = SelectField(_l("受講者"), coerce=int, validators=[DataRequired(message=_l("受講者を選んでください。"))])
    third_party = SelectField(_l("所属する第三者"), coerce=int, validators=[Optional()])
