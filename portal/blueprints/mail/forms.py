from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from portal.blueprints.mail.services import STATUS_LABELS, normalize_address
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.ids import parse_id
from portal.log_labels import mail_kind_choices
from portal.models import MailSuppression, Organization


def _organization_choices(blank: str):
    rows = db.session.execute(select(Organization.id, Organization.name).order_by(Organization.name)).all()
    return [("", blank)] + [(str(r.id), r.name) for r in rows]


class MessageFilterForm(FlaskForm):
    """The delivery log's filters (GET, no CSRF). Operators also filter by organization. 種類 lists every
    email kind with its label; a kind in the query string that is not one of them (an old link, a kind no
    longer sent) still filters and is offered as itself."""

    organization_id = SelectField(_l("組織"), validate_choice=False)
    status = SelectField(_l("状態"), validate_choice=False)
    template = SelectField(_l("種類"), validate_choice=False)
    date_from = DateField(_l("開始日"), validators=[Optional()])
    date_to = DateField(_l("終了日"), validators=[Optional()])

    def __init__(self, *args, with_organization: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [("", _l("すべて"))] + [(k, v) for k, v in STATUS_LABELS.items()]
        self.template.choices = mail_kind_choices(self.template.data)
        if with_organization:
            self.organization_id.choices = _organization_choices(_l("すべて"))
        else:
            del self.organization_id

    def validate_organization_id(self, field):
        if field.data and parse_id(str(field.data)) is None:
            raise ValidationError(_l("組織を一覧から選んでください。"))


class SuppressionForm(FlaskForm):
    """Stop email to one address or to one organization (terms art. 19 allows the latter)."""

    address = StringField(
        _l("メールアドレス"),
        validators=[Optional(), Length(max=254, message=_l("254文字以内で入力してください。"))],
        description=_l("このアドレスへのメールを止めます。組織全体を止める場合は空欄にしてください。"),
    )
    organization_id = SelectField(_l("組織"), validators=[Optional()], validate_choice=False)
    note = TextAreaField(_l("理由・メモ"), validators=[Length(max=500, message=_l("500文字以内で入力してください。"))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_id.choices = _organization_choices(_l("(組織を止めない)"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not self.address.data and not self.organization_id.data:
            self.address.errors.append(_l("メールアドレスか組織のどちらかを指定してください。"))
            return False
        if self.address.data and self.organization_id.data:
            self.address.errors.append(_l("メールアドレスと組織は、どちらか一方だけを指定してください。"))
            return False
        return valid

    def validate_address(self, field):
        address = normalize_address(field.data)
        if address is None:
            raise ValidationError(_l("メールアドレスの形式が正しくありません。"))
        if db.session.scalar(select(MailSuppression.id).where(MailSuppression.address == address)):
            raise ValidationError(_l("このアドレスはすでに配信停止になっています。"))

    def validate_organization_id(self, field):
        if field.data not in {value for value, _label in self.organization_id.choices if value}:
            raise ValidationError(_l("組織を一覧から選んでください。"))
        if db.session.scalar(select(MailSuppression.id).where(MailSuppression.organization_id == int(field.data))):
            raise ValidationError(_l("この組織はすでに配信停止になっています。"))
