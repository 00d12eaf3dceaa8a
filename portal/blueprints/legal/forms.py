"""The operator's form for a new version of the terms, the privacy policy or the security white paper."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from portal.i18n import lazy_gettext as _l


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
