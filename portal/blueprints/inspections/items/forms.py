from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import IntegerField, options
from portal.i18n import lazy_gettext as _l
from portal.models import EditionKind


class ItemForm(FlaskForm):
    category = StringField(
        _l("分類"), validators=[DataRequired(message=_l("分類を入力してください。")), Length(max=50)],
        description=_l("例: 入退管理、ログインパスワード、電子メールの利用"), render_kw={"list": "categories"},
    )
    text = TextAreaField(
        _l("点検項目"), validators=[DataRequired(message=_l("点検項目を入力してください。")), Length(max=300)],
        description=_l("「はい」が守れている状態になる文で書きます。"), render_kw={"rows": 2},
    )
    why = TextAreaField(
        _l("なぜ大切か"), validators=[DataRequired(message=_l("なぜ大切かを短く書いてください。")), Length(max=1000)],
        render_kw={"rows": 3},
    )
    is_active = BooleanField(_l("使用中（外すと新しい点検では出題しません）"), default=True)


class EditionForm(FlaskForm):
    title = StringField(_l("版の名前"), validators=[DataRequired(message=_l("版の名前を入力してください。")),
                                                  Length(max=200)])
    kind = SelectField(_l("種類"), choices=options([
        (EditionKind.EMPLOYEE, _l("従業員版")), (EditionKind.MANAGER, _l("管理者版")),
        (EditionKind.CLIENT_SITE, _l("客先常駐版")), (EditionKind.CUSTOM, _l("独自の版")),
    ]))
    description = TextAreaField(_l("説明"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    drawn_count = IntegerField(
        _l("毎月抽選する項目数"), default=0,
        validators=[InputRequired(message=_l("毎月抽選する項目数を入力してください。")),
                    NumberRange(0, 20, message=_l("抽選する項目数は0から20の間で入力してください。"))],
        description=_l("固定の項目のほかに、毎月ちがう分類から1項目ずつ抽選します。前の月と同じ分類はなるべく避けます。"),
    )
    item_ids = SelectMultipleField(_l("固定の項目"), coerce=int, validate_choice=False,
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
