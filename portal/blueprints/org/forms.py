from flask_wtf import FlaskForm
from wtforms import BooleanField

from portal.i18n import lazy_gettext as _l


class WeeklySummaryForm(FlaskForm):
    """An administrator's own choice: the weekly summary email, Monday morning."""

    wanted = BooleanField(_l("週次サマリーをメールで受け取る（毎週月曜日の朝）"))
