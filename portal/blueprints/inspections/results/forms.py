"""Forms of the follow-up screens. The rules (owner of the organization, due date, いいえ only) are checked
by ``services``, so that the same Japanese message reaches a form and a test alike."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from portal.blueprints.inspections.results.services import ACTION_LABELS
from portal.forms import options
from portal.i18n import lazy_gettext as _l
from portal.models import ActionStatus


def int_or_none(value):
    """A choice's id, or None for anything that is not a plain number an id column can hold."""
    if value in (None, "", "None"):
        return None
    text = str(value)
    if text.isascii() and text.isdigit() and len(text) < 10:
        return int(text)
    return None


class JapaneseDateField(DateField):
    """A date as the browser's date input sends it, with a Japanese message for anything else."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            raise ValueError(_l("日付は 2026-04-30 のように入力してください。")) from err


STATUS_CHOICES = options([(s.value, ACTION_LABELS[s]) for s in ActionStatus])


class ActionProgressForm(FlaskForm):
    """What a manager may change: the status and the notes."""

    status = SelectField(_l("状況"), choices=STATUS_CHOICES, validate_choice=False,
                         validators=[InputRequired(message=_l("状況を選んでください。"))])
    notes = TextAreaField(_l("対応メモ"), validators=[Optional(), Length(max=4000, message=_l(
        "対応メモは4000文字以内で入力してください。"))])


class ActionForm(ActionProgressForm):
    """An administrator's form: the whole action, and optionally a training delivery to the person."""

    title = StringField(_l("件名"), validators=[Optional(), Length(max=200, message=_l(
        "件名は200文字以内で入力してください。"))], description=_l("空欄なら点検項目の文から付けます。"))
    owner_id = SelectField(_l("担当者"), coerce=int_or_none, validate_choice=False,
                           validators=[InputRequired(message=_l("担当者を選んでください。"))])
    due_on = JapaneseDateField(_l("期限"), validators=[InputRequired(message=_l("期限を入力してください。"))])
    course_id = SelectField(_l("研修を割り当てる（任意）"), coerce=int_or_none, validate_choice=False,
                            description=_l("選ぶと、「いいえ」と回答した受講者にこの講座を配信します。"))
