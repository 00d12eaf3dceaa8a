"""Form pieces shared by every area: the contract terms form (the operator's organizations and the
approval of an application) and the postal address fields (an application and the organization's
registration)."""

import wtforms
import wtforms.widgets
import wtforms.widgets.core
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import BooleanField, DateField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.addresses import POSTAL_CODE, PREFECTURES, fold_digits
from portal.contracts import ContractTerms
from portal.i18n import lazy_gettext as _l
from portal.ids import MAX_ID
from portal.passwords import MAX_LENGTH, password_problems
from portal.sending import MAX_REMINDERS


def html_params(**kwargs) -> Markup:
    """WTForms' ``html_params`` (the attributes of every input, select, option and label), the same output
    in a fifth of the time: WTForms formats each attribute through ``Markup.format``, whose escaping
    formatter cost about 40 µs per field, 10 % of the login page and more on a sheet of radio buttons
    (#17). ``tests/test_forms_html_params.py`` checks the two agree on any attributes."""
    parts = []
    for key, value in sorted(kwargs.items()):
        key = wtforms.widgets.core.clean_key(key)
        if value is True:
            parts.append(str(escape(key)))
        elif value is not False:
            # escape() leaves a Markup value as it is: a raw quote in it must not end the attribute.
            parts.append(f'{escape(key)}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    # Reviewed: every key and value was escaped just above.
    return Markup(" ".join(parts))  # noqa: S704  # nosec B704


WTFORMS_HTML_PARAMS = wtforms.widgets.core.html_params


def install_fast_html_params() -> None:
    """Put :func:`html_params` where WTForms' widgets and labels look it up: the module function, its
    re-export, and the widget classes that keep it as a static method (``Input``, ``Button``). Called by
    ``create_app``; doing it again changes nothing."""
    wtforms.widgets.core.html_params = html_params
    wtforms.widgets.html_params = html_params
    for widget in vars(wtforms.widgets.core).values():
        if isinstance(widget, type) and "html_params" in vars(widget):
            widget.html_params = staticmethod(html_params)


class AddressFields:
    """A Japanese postal address: 郵便番号 (123-4567, full-width digits folded), 都道府県, the rest."""

    postal_code = StringField(
        _l("郵便番号"),
        validators=[DataRequired(message=_l("郵便番号を入力してください。"))],
        filters=[fold_digits],
        description=_l("例: 101-0062(ハイフンを含めて7桁)"),
        render_kw={"inputmode": "numeric", "autocomplete": "postal-code", "maxlength": 10},
    )
    prefecture = SelectField(
        _l("都道府県"),
        choices=[SelectChoice("", _l("選んでください"))] + [SelectChoice(p) for p in PREFECTURES],
        validators=[DataRequired(message=_l("都道府県を選んでください。"))],
    )
    address_line1 = StringField(
        _l("市区町村・番地"),
        validators=[DataRequired(message=_l("市区町村・番地を入力してください。")), Length(max=200)],
        render_kw={"autocomplete": "address-line1"},
    )
    address_line2 = StringField(
        _l("建物名・部屋番号"), validators=[Optional(), Length(max=200)], render_kw={"autocomplete": "address-line2"}
    )

    def validate_postal_code(self, field):
        if not POSTAL_CODE.fullmatch(field.data or ""):
            raise ValidationError(_l("郵便番号は「123-4567」の形式で入力してください。"))


class EmptyForm(FlaskForm):
    """CSRF only, for action buttons (log out, switch language, retry)."""


class NewPasswordMixin:
    """``new_password`` and its confirmation, checked against the password policy.

    The form's owner sets ``policy_inputs`` (the user's name and email) before validation.
    """

    policy_inputs: tuple[str, ...] = ()

    new_password = PasswordField(
        _l("新しいパスワード"),
        validators=[DataRequired(message=_l("新しいパスワードを入力してください。")), Length(max=MAX_LENGTH)],
        description=_l("12文字以上。長い文や、関係のない単語の組み合わせがおすすめです。記号は必須ではありません。"),
    )
    confirm_password = PasswordField(
        _l("新しいパスワード(確認)"),
        validators=[DataRequired(message=_l("確認のため、もう一度入力してください。"))],
    )

    def validate_new_password(self, field):
        problems = password_problems(field.data or "", self.policy_inputs)
        if problems:
            raise ValidationError(" ".join(problems))

    def validate_confirm_password(self, field):
        if field.data != self.new_password.data:
            raise ValidationError(_l("確認用のパスワードが一致しません。"))


class AdminMfaPolicyForm(FlaskForm):
    """An organization's policy: its administrators must use two-factor sign-in (set by the organization's
    administrator and by the operator)."""

    required = BooleanField(_l("この組織の管理者に2段階認証を必須にする"))


class IntegerField(wtforms.IntegerField):
    """WTForms' IntegerField, refusing numbers no database column holds.

    Stock WTForms accepts any length of digits, and its NumberRange then fails with OverflowError
    (a 500) when converting a huge integer to float, or the database refuses it; here such input is
    an ordinary form error. The limit is PostgreSQL's ``integer``, the type of our ids and amounts.
    """

    LIMIT = MAX_ID

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and abs(self.data) > self.LIMIT:
            self.data = None
            raise ValueError(_l("数値が大きすぎます。"))


def bounded_int(value) -> int:
    """``int`` as a ``coerce`` for id choices, refusing (ValueError: a form error) numbers beyond the
    database's integer, which SQLite would answer with OverflowError."""
    number = int(value)
    if abs(number) > IntegerField.LIMIT:
        raise ValueError("out of range")
    return number


def options(pairs) -> list[SelectChoice]:
    """Choices for a select or radio field from ``(value, label)`` pairs (labels may be lazy)."""
    return [SelectChoice(value, label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ScheduleChecks:
    """The checks of a form with the sending-schedule fields (start, due date, reminders, sending window),
    shared by training deliveries and inspection rounds."""

    def validate_due_at(self, field):
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("期限は開始日時より後にしてください。"))

    def validate_reminder_days(self, field):
        if len(field.data or []) > MAX_REMINDERS:
            raise ValidationError(_l("リマインドは5回までです。"))

    def validate_window_end_hour(self, field):
        if self.window_start_hour.data is not None and field.data is not None and \
                field.data <= self.window_start_hour.data:
            raise ValidationError(_l("送信時間帯は開始時刻を終了時刻より前にしてください。"))


def _yen(label):
    return IntegerField(
        label,
        validators=[
            InputRequired(message=_l("金額を入力してください(0円の場合は0)。")),
            NumberRange(min=0, max=2_000_000_000, message=_l("金額は0円以上の整数で入力してください。")),
        ],
        description=_l("税抜・円"),
        render_kw={"inputmode": "numeric"},
    )


class ContractForm(FlaskForm):
    """A contract period's terms: the operator's organization and contract forms, and an application's approval."""

    plan_name = StringField(
        _l("プラン名"), validators=[DataRequired(message=_l("プラン名を入力してください。")), Length(max=100)]
    )
    starts_on = DateField(_l("契約開始日"), validators=[InputRequired(message=_l("契約開始日を入力してください。"))])
    ends_on = DateField(_l("契約終了日"), validators=[InputRequired(message=_l("契約終了日を入力してください。"))])
    seat_limit = IntegerField(
        _l("上限利用者数"),
        validators=[
            InputRequired(message=_l("上限利用者数を入力してください。")),
            NumberRange(min=1, max=1_000_000, message=_l("上限利用者数は1以上の整数で入力してください。")),
        ],
        render_kw={"inputmode": "numeric"},
    )
    annual_fee = _yen(_l("年間利用料"))
    overage_unit_price = _yen(_l("超過単価(1名あたり・契約期間)"))

    def validate_ends_on(self, field):
        if self.starts_on.data and field.data and field.data <= self.starts_on.data:
            raise ValidationError(_l("契約終了日は契約開始日より後の日付にしてください。"))

    def terms(self) -> ContractTerms:
        return ContractTerms(
            plan_name=self.plan_name.data.strip(),
            starts_on=self.starts_on.data,
            ends_on=self.ends_on.data,
            seat_limit=self.seat_limit.data,
            annual_fee=self.annual_fee.data,
            overage_unit_price=self.overage_unit_price.data,
        )
