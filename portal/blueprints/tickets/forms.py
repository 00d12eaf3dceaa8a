"""Forms of the support desk. Attachments are checked here, by content, before anything is written."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError

from portal.blueprints.tickets import files
from portal.forms import IntegerField, bounded_int, options
from portal.i18n import lazy_gettext as _l
from portal.models import TicketCategory, TicketStatus
from portal.models.tickets import CATEGORY_LABELS, STATUS_LABELS

BODY_MAX = 10_000


class AttachmentsMixin:
    attachments = MultipleFileField(
        _l("添付ファイル"),
        description=_l("PDF・画像(PNG・JPEG・GIF)・テキスト(TXT・CSV)・Word・Excel・PowerPoint。"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        config = current_app.config
        # app.js checks sizes before sending, so that a request too large to read loses nothing typed.
        self.attachments.render_kw = {
            "accept": ",".join(sorted(files.ACCEPT)),
            "data-max-bytes": config["TICKET_ATTACHMENT_MAX_BYTES"],
            "data-max-files": config["TICKET_ATTACHMENTS_PER_MESSAGE"],
            "data-max-total": (config.get("MAX_CONTENT_LENGTH") or 0) - 256 * 1024,
            "data-message": _l(
                "ファイルが大きすぎるか多すぎます(1ファイル%(mb)sMBまで、%(n)d個まで)。選び直してください。",
                mb=files.megabytes(config["TICKET_ATTACHMENT_MAX_BYTES"]),
                n=config["TICKET_ATTACHMENTS_PER_MESSAGE"],
            ),
        }

    def validate_attachments(self, field):
        uploads = [f for f in (field.data or []) if getattr(f, "filename", None)]
        limit = current_app.config["TICKET_ATTACHMENTS_PER_MESSAGE"]
        if len(uploads) > limit:
            raise ValidationError(_l("添付ファイルは1回に%(n)d個までです。", n=limit))
        checked, problems = [], []
        for upload in uploads:
            try:
                checked.append(files.check_upload(upload))
            except files.AttachmentRefused as refused:
                problems.append(str(refused))
        if problems:
            raise ValidationError(" ".join(problems))
        self.checked_files = checked

    @property
    def checked(self) -> list[files.CheckedFile]:
        return getattr(self, "checked_files", [])


def _body_field(label):
    return TextAreaField(
        label,
        validators=[
            DataRequired(message=_l("本文を入力してください。")),
            Length(max=BODY_MAX, message=_l("本文は%(max)d文字以内で入力してください。")),
        ],
        render_kw={"rows": 8},
    )


class TicketForm(AttachmentsMixin, FlaskForm):
    category = SelectField(_l("種類"), validators=[InputRequired(message=_l("種類を選んでください。"))])
    subject = StringField(
        _l("件名"),
        validators=[
            DataRequired(message=_l("件名を入力してください。")),
            Length(max=200, message=_l("件名は%(max)d文字以内で入力してください。")),
        ],
    )
    body = _body_field(_l("お問い合わせ内容"))

    def __init__(self, *args, categories: list[TicketCategory], **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = options((c, CATEGORY_LABELS[c]) for c in categories)
        self.category.description = _l("「緊急」は、サービスが使えないなど急を要する場合に選んでください。")


class ReplyForm(AttachmentsMixin, FlaskForm):
    body = _body_field(_l("返信"))


class StaffReplyForm(AttachmentsMixin, FlaskForm):
    body = _body_field(_l("返信・メモ"))
    internal = BooleanField(_l("社内メモとして保存する(お客様には表示されません)"))
    next_status = SelectField(
        _l("返信後の状態"),
        choices=options(
            (s, STATUS_LABELS[s]) for s in (TicketStatus.WAITING, TicketStatus.OPEN, TicketStatus.RESOLVED)
        ),
        default=str(TicketStatus.WAITING),
    )


class StatusForm(FlaskForm):
    status = SelectField(
        _l("状態"),
        choices=options((s, STATUS_LABELS[s]) for s in TicketStatus if s != TicketStatus.NEW),
    )


class AssignForm(FlaskForm):
    assignee_id = SelectField(_l("担当者"), coerce=int)


class MergeForm(FlaskForm):
    target_id = IntegerField(
        _l("統合先のお問い合わせ番号"),
        validators=[InputRequired(message=_l("統合先の番号を入力してください。")), NumberRange(min=1)],
    )


class IncidentLinkForm(FlaskForm):
    notice_id = SelectField(_l("関連する障害のお知らせ"), coerce=bounded_int, validate_choice=False)


class RatingForm(FlaskForm):
    rating = RadioField(
        _l("回答の満足度"),
        choices=options(
            [
                (5, _l("5 とても満足")),
                (4, _l("4 満足")),
                (3, _l("3 ふつう")),
                (2, _l("2 不満")),
                (1, _l("1 とても不満")),
            ]
        ),
        validators=[InputRequired(message=_l("満足度を選んでください。"))],
    )
    comment = TextAreaField(_l("ご意見(任意)"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})


class CannedReplyForm(FlaskForm):
    title = StringField(
        _l("名前"),
        validators=[DataRequired(message=_l("名前を入力してください。")), Length(max=100)],
    )
    body = _body_field(_l("本文"))


class BreakForm(FlaskForm):
    name = StringField(
        _l("名前"),
        validators=[DataRequired(message=_l("名前を入力してください(例: 夏季休業)。")), Length(max=100)],
    )
    first_day = DateField(_l("開始日"), validators=[InputRequired(message=_l("開始日を入力してください。"))])
    last_day = DateField(_l("終了日"), validators=[InputRequired(message=_l("終了日を入力してください。"))])

    def validate_last_day(self, field):
        if self.first_day.data and field.data and field.data < self.first_day.data:
            raise ValidationError(_l("終了日は開始日以降の日付にしてください。"))
        if self.first_day.data and field.data and (field.data - self.first_day.data).days > 60:
            raise ValidationError(_l("休業期間は60日以内にしてください。"))


class SettingsForm(FlaskForm):
    learners_may_ask = BooleanField(_l("受講者もサポート窓口へ質問できるようにする"))


class QueueFilterForm(FlaskForm):
    class Meta:
        csrf = False

    queue = SelectField(_l("キュー"), validators=[Optional()])
    category = SelectField(_l("種類"), validators=[Optional()])
    organization_id = SelectField(_l("組織"), validators=[Optional()])
    q = StringField(_l("件名・番号"), validators=[Optional(), Length(max=100)])


class ReportForm(FlaskForm):
    class Meta:
        csrf = False

    month = StringField(_l("月"), validators=[Optional(), Length(max=7)], render_kw={"type": "month"})


class ContactForm(FlaskForm):
    """The public contact form (Art. 10-2). No attachments: nobody signed in stands behind the upload."""

    name = StringField(
        _l("お名前"),
        validators=[DataRequired(message=_l("お名前を入力してください。")),
                    Length(max=100, message=_l("お名前は100文字以内で入力してください。"))],
        render_kw={"autocomplete": "name"},
    )
    company = StringField(
        _l("会社名"),
        validators=[Optional(), Length(max=200, message=_l("会社名は200文字以内で入力してください。"))],
        render_kw={"autocomplete": "organization"},
    )
    email = EmailField(
        _l("メールアドレス"),
        validators=[
            DataRequired(message=_l("メールアドレスを入力してください。")),
            Length(max=254, message=_l("メールアドレスは254文字以内で入力してください。")),
            Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
        ],
        description=_l("確認のメールをお送りします。メール内のリンクを開くと、お問い合わせを受け付けます。"),
        render_kw={"autocapitalize": "none", "autocomplete": "email"},
    )
    category = SelectField(_l("種類"), validators=[DataRequired(message=_l("種類を選んでください。"))])
    subject = StringField(
        _l("件名"),
        validators=[DataRequired(message=_l("件名を入力してください。")),
                    Length(max=200, message=_l("件名は200文字以内で入力してください。"))],
    )
    body = TextAreaField(
        _l("内容"),
        validators=[DataRequired(message=_l("内容を入力してください。")),
                    Length(max=BODY_MAX, message=_l("内容は%(max)d文字以内で入力してください。", max=BODY_MAX))],
        render_kw={"rows": 8},
    )
    # Honeypot: hidden from people by CSS (.hp); a bot that fills it gets the usual answer, nothing is kept.
    website = StringField(_l("ウェブサイト(入力しないでください)"), render_kw={"autocomplete": "off", "tabindex": "-1"})

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = options(
            [("", _l("選んでください"))] + [(str(c), CATEGORY_LABELS[c]) for c in categories]
        )
