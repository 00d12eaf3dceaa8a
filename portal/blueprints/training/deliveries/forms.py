
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.blueprints.training.deliveries.services import MAX_ESCALATE_AFTER_DAYS
from portal.forms import IntegerField, MultiCheckboxField, ScheduleChecks, bounded_int, options
from portal.i18n import lazy_gettext as _l
from portal.models import Recurrence, TargetKind
from portal.sending import REMINDER_CHOICES


class DeliveryForm(ScheduleChecks, FlaskForm):
    course_id = SelectField(_l("講座"), coerce=int, validators=[DataRequired(message=_l("講座を選んでください。"))])
    title = StringField(_l("配信名"), validators=[Optional(), Length(max=200)],
                        description=_l("空欄なら講座名と年度から付けます。"))
    target_kind = RadioField(
        _l("対象"), default=TargetKind.EVERYONE,
        choices=options([(TargetKind.EVERYONE, _l("全員")), (TargetKind.DEPARTMENTS, _l("部署を選ぶ")),
                 (TargetKind.LEARNERS, _l("受講者を選ぶ"))]),
    )
    department_ids = MultiCheckboxField(_l("部署（下位の部署を含む）"), coerce=int, validate_choice=False)
    # Chosen in the learner picker (portal/learner_picker.py), which renders the checkboxes itself.
    learner_ids = SelectMultipleField(_l("受講者"), coerce=bounded_int, validate_choice=False)
    learner_q = StringField(_l("名前・受講者ID・メールアドレスで探す"))
    starts_at = DateTimeLocalField(
        _l("開始日時"), validators=[DataRequired(message=_l("開始日時を入力してください。"))]
    )
    due_at = DateTimeLocalField(_l("期限"), validators=[DataRequired(message=_l("期限を入力してください。"))])
    reminder_days = MultiCheckboxField(_l("リマインド（5回まで）"), coerce=int,
                                       choices=options([(d, _l(label)) for d, label in REMINDER_CHOICES]))
    window_start_hour = IntegerField(_l("送信時間帯（開始時）"), default=9, validators=[NumberRange(0, 23)])
    window_end_hour = IntegerField(_l("送信時間帯（終了時）"), default=18, validators=[NumberRange(1, 24)])
    business_days_only = BooleanField(_l("営業日だけ送る（土日祝・年末年始を除く）"), default=True)
    recurrence = SelectField(
        _l("繰り返し"),
        choices=options([(Recurrence.NONE, _l("繰り返さない")), (Recurrence.MONTHLY, _l("毎月")),
                 (Recurrence.QUARTERLY, _l("四半期ごと"))]),
    )
    escalate_after_days = IntegerField(
        _l("期限後、上長に知らせるまでの日数"), default=3,
        validators=[NumberRange(0, MAX_ESCALATE_AFTER_DAYS, message=_l("0から60までの日数を入力してください。"))],
        description=_l("期限を過ぎてこの日数が経っても合格していない人を、その部署のマネージャーにメールで知らせます。"
                       "その後も未合格の人がいれば1週間ごとに知らせます。0 なら知らせません。"),
    )

