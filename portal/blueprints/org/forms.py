from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField
from wtforms.validators import DataRequired, Optional


class ThirdPartyMemberForm(FlaskForm):
    learner = SelectField(_l("受講者"), coerce=int, validators=[DataRequired(message=_l("受講者を選んでください。"))])
    third_party = SelectField(_l("所属する第三者"), coerce=int, validators=[Optional()])


class WeeklySummaryForm(FlaskForm):
    """An administrator's own choice: the weekly summary email, Monday morning."""

    wanted = BooleanField(_l("週次サマリーをメールで受け取る（毎週月曜日の朝）"))
