import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from portal.accounts import ADDRESS_UNAVAILABLE, email_taken
from portal.addresses import PHONE, POSTAL_CODE, PREFECTURES, fold_digits
from portal.blueprints.org.services import ProfileData


class ProfileForm(FlaskForm):
    organization_name = StringField(
        _l("法人名"), validators=[DataRequired(message=_l("法人名を入力してください。")), Length(max=200)]
    )
    postal_code = StringField(
        _l("郵便番号"),
        validators=[DataRequired(message=_l("郵便番号を入力してください。"))],
        filters=[fold_digits],
        description=_l("例: 101-0062(ハイフンを含めて7桁)"),
        render_kw={"inputmode": "numeric", "autocomplete": "postal-code"},
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
    phone = StringField(
        _l("電話番号"),
        validators=[DataRequired(message=_l("電話番号を入力してください。"))],
        filters=[fold_digits],
        description=_l("例: 03-1234-5678"),
        render_kw={"inputmode": "tel", "autocomplete": "tel"},
    )
    admin_name = StringField(
        _l("管理者氏名"), validators=[DataRequired(message=_l("管理者の氏名を入力してください。")), Length(max=100)]
    )

    def validate_postal_code(self, field):
        if not POSTAL_CODE.fullmatch(field.data or ""):
            raise ValidationError(_l("郵便番号は「123-4567」の形式で入力してください。"))

    def validate_phone(self, field):
        digits = re.sub(r"\D", "", field.data or "")
        if not PHONE.fullmatch(field.data or "") or len(digits) not in (10, 11):
            raise ValidationError(
                _l("電話番号は「03-1234-5678」のように、0から始まる10桁または11桁で入力してください。")
            )

    def data_for_service(self) -> ProfileData:
        return ProfileData(
            organization_name=self.organization_name.data.strip(),
            postal_code=self.postal_code.data,
            prefecture=self.prefecture.data,
            address_line1=self.address_line1.data.strip(),
            address_line2=(self.address_line2.data or "").strip(),
            phone=self.phone.data,
            admin_name=self.admin_name.data.strip(),
        )


class MemberForm(FlaskForm):
    name = StringField(_l("氏名"), validators=[DataRequired(message=_l("氏名を入力してください。")), Length(max=100)])
    email = EmailField(
        _l("メールアドレス"),
        validators=[
            DataRequired(message=_l("メールアドレスを入力してください。")),
            Length(max=254),
            Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
        ],
        render_kw={"autocapitalize": "none"},
    )
    role = SelectField(
        _l("権限"),
        choices=[SelectChoice("org_admin", _l("管理者")), SelectChoice("manager", _l("マネージャー"))],
        validators=[DataRequired(message=_l("権限を選んでください。"))],
    )

    def validate_email(self, field):
        if email_taken(field.data):
            raise ValidationError(ADDRESS_UNAVAILABLE)


class TerminationRequestForm(FlaskForm):
    end_on = DateField(_l("利用終了日"), validators=[InputRequired(message=_l("利用終了日を入力してください。"))])
    reason = TextAreaField(_l("理由(任意)"), validators=[Optional(), Length(max=500)])


class HandoverForm(FlaskForm):
    successor_name = StringField(
        _l("後任者の氏名"), validators=[DataRequired(message=_l("後任者の氏名を入力してください。")), Length(max=100)]
    )
    successor_email = EmailField(
        _l("後任者のメールアドレス"),
        validators=[
            DataRequired(message=_l("後任者のメールアドレスを入力してください。")),
            Length(max=254),
            Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
        ],
        description=_l("組織の管理者・マネージャーのアドレスか、新しいアドレスを指定できます。"),
        render_kw={"autocapitalize": "none"},
    )
    notes = TextAreaField(
        _l("引き継ぎメモ"),
        validators=[Length(max=10000)],
        description=_l("運営事務局から受け取った操作に必要な情報などを書いてください(利用規約第12条)。"),
    )
    predecessor_after = SelectField(
        _l("引き継ぎ後の前任者"),
        choices=[
            SelectChoice("end", _l("利用を終了する(ログインできなくなります)")),
            SelectChoice("manager", _l("マネージャーになる")),
            SelectChoice("org_admin", _l("管理者のまま残る")),
        ],
        validators=[DataRequired()],
    )


class ThirdPartyMemberForm(FlaskForm):
    learner = SelectField(_l("受講者"), coerce=int, validators=[DataRequired(message=_l("受講者を選んでください。"))])
    third_party = SelectField(_l("所属する第三者"), coerce=int, validators=[Optional()])


class WeeklySummaryForm(FlaskForm):
    """An administrator's own choice: the weekly summary email, Monday morning."""

    wanted = BooleanField(_l("週次サマリーをメールで受け取る（毎週月曜日の朝）"))
