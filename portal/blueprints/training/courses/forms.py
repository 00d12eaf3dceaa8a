from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.forms import IntegerField, options
from portal.i18n import lazy_gettext as _l
from portal.models import CourseKind, LatePolicy, QuestionKind


class CourseForm(FlaskForm):
    title = StringField(
        _l("講座名"), validators=[DataRequired(message=_l("講座名を入力してください。")), Length(max=200)]
    )
    fiscal_year = IntegerField(
        _l("年度"),
        validators=[DataRequired(message=_l("年度を入力してください。")),
                    NumberRange(2000, 2100, message=_l("年度は2000から2100の間で入力してください。"))],
    )
    kind = SelectField(
        _l("種類"),
        choices=options([(CourseKind.ANNUAL, _l("年度版（年度ごとに問題を改訂）")),
                 (CourseKind.FIXED, _l("固定版（問題を年度をまたいで固定）"))]),
    )
    description = TextAreaField(_l("説明"), validators=[Optional(), Length(max=2000)])
    pass_mark = IntegerField(
        _l("合格点"), default=100,
        validators=[DataRequired(message=_l("合格点を入力してください。")),
                    NumberRange(1, 100, message=_l("合格点は1から100の間で入力してください。"))],
        description=_l("100点満点。既定は100点（全問正解）です。"),
    )
    questions_per_attempt = IntegerField(
        _l("1回の出題数"), default=10,
        validators=[NumberRange(0, 200, message=_l("出題数は0から200の間で入力してください。"))],
        description=_l("問題集から毎回この数だけ出題します。0は全問。再受験では可能な限り別の問題を出します。"),
    )
    late_policy = SelectField(
        _l("期限後の受講"),
        choices=options(
            [(LatePolicy.ALLOW, _l("受け付けて「期限後」と記録する")), (LatePolicy.REFUSE, _l("受け付けない"))]
        ),
    )


class LessonForm(FlaskForm):
    title = StringField(_l("題名"), validators=[DataRequired(message=_l("題名を入力してください。")), Length(max=200)])
    body_md = TextAreaField(
        _l("本文（Markdown）"), validators=[Optional(), Length(max=50000)],
        description=_l("見出し・箇条書き・表・画像（![説明](画像のURL)）が使えます。HTMLは使えません。"),
        render_kw={"rows": 14},
    )


class ImageForm(FlaskForm):
    image = FileField(_l("画像（PNG・JPEG・GIF、2MBまで）"), render_kw={"accept": "image/png,image/jpeg,image/gif"})


class QuestionForm(FlaskForm):
    kind = SelectField(
        _l("形式"),
        choices=options([(QuestionKind.SINGLE, _l("単一選択")), (QuestionKind.MULTIPLE, _l("複数選択")),
                 (QuestionKind.TRUE_FALSE, _l("○×"))]),
    )
    text = TextAreaField(_l("問題文"), validators=[DataRequired(message=_l("問題文を入力してください。")),
                                                  Length(max=2000)])
    choices = TextAreaField(
        _l("選択肢（単一・複数選択）"), validators=[Optional(), Length(max=5000)],
        description=_l("1行に1つ。正解の行の先頭に * を付けます。"), render_kw={"rows": 6},
    )
    answer = RadioField(_l("正解（○×）"), choices=options([("true", "○"), ("false", "×")]), validators=[Optional()],
                        validate_choice=False)
    explanation = TextAreaField(_l("解説"), validators=[Optional(), Length(max=5000)])
    category = StringField(_l("分野"), validators=[Optional(), Length(max=100)],
                           description=_l("例: パスワード、メール、情報の持ち出し"))
