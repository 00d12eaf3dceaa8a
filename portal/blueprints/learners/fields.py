"""A learner's fields and their rules, defined once.

The learner forms are built from these validator chains and the CSV import checks every cell with
the same chains through :func:`problem`, so a rule or a message changed here changes both. The
import does not run a whole form per row: building one ``NewLearnerForm`` costs about 340 µs, more
than half again the whole reading of a 10,000-row file, while a chain on a bare value costs a few
microseconds.

How a typed value is read before the rules (:data:`READ`) is here too, used as the form's filters and by
the import: an ID and an address are width-folded (NFKC: ００１２３ is 00123, ＹＡＭＡＤＡ＠… is yamada@…); a
name is kept as written, full-width letters, ① and the full-width space included, apart from the spaces
around it. A 受講者ID keeps its case and is compared ignoring it (:func:`portal.accounts.login_id_is`).

What is not a field rule stays with its user: reading a cell (Excel's ``="00123"``, formula refusal,
Japanese employment labels, department paths) is the import's; choosing a department or a third party
from the offered list is the form's.
"""

from __future__ import annotations

import unicodedata

from wtforms.validators import (
    AnyOf,
    DataRequired,
    Email,
    Length,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from portal.accounts import ADDRESS_UNAVAILABLE, normalize_email, normalize_login_id
from portal.i18n import lazy_gettext as _l
from portal.models import MAX_DEPARTMENT_DEPTH
from portal.models.learners import EMPLOYMENT_LABELS
from portal.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH

LOGIN_ID_MAX_LENGTH = 64
LOGIN_ID_PATTERN = r"^[A-Za-z0-9._@-]+$"
NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
DEPARTMENT_NAME_MAX_LENGTH = 100
INITIAL_PASSWORD_MIN_LENGTH = 8

LABELS = {
    "login_id": _l("受講者ID"),
    "name": _l("氏名"),
    "email": _l("メールアドレス"),
    "department": _l("部署"),
    "employment_type": _l("雇用形態"),
    "initial_password": _l("初期パスワード"),
}

LOGIN_ID = [
    DataRequired(message=_l("受講者IDを入力してください。")),
    Length(max=LOGIN_ID_MAX_LENGTH, message=_l("受講者IDは%(n)d文字以内にしてください。", n=LOGIN_ID_MAX_LENGTH)),
    Regexp(LOGIN_ID_PATTERN, message=_l("受講者IDには半角英数字と . _ @ - だけが使えます。")),
]
NAME = [
    Optional(),
    Length(max=NAME_MAX_LENGTH, message=_l("氏名は%(n)d文字以内にしてください。", n=NAME_MAX_LENGTH)),
]
EMAIL = [
    Optional(),
    Length(
        max=EMAIL_MAX_LENGTH,
        message=_l("メールアドレスは%(n)d文字以内にしてください。", n=EMAIL_MAX_LENGTH),
    ),
    Email(message=_l("メールアドレスの形式が正しくありません。"), check_deliverability=False),
]
EMPLOYMENT_TYPE = [
    Optional(),
    AnyOf(
        [str(k) for k in EMPLOYMENT_LABELS],
        message=_l("雇用形態を一覧から選んでください。選べるのは %(values)s です。"),
        values_formatter=lambda _values: "、".join(str(v) for v in EMPLOYMENT_LABELS.values()),
    ),
]
_INITIAL_PASSWORD_LENGTH = [
    Length(
        min=INITIAL_PASSWORD_MIN_LENGTH,
        message=_l("初期パスワードは%(n)d文字以上にしてください。", n=INITIAL_PASSWORD_MIN_LENGTH),
    ),
    Length(
        max=PASSWORD_MAX_LENGTH,
        message=_l("初期パスワードは%(n)d文字以内にしてください。", n=PASSWORD_MAX_LENGTH),
    ),
]
INITIAL_PASSWORD = [Optional(), *_INITIAL_PASSWORD_LENGTH]
INITIAL_PASSWORD_REQUIRED = [DataRequired(message=_l("初期パスワードを入力してください。")), *_INITIAL_PASSWORD_LENGTH]
DEPARTMENT_NAME = [
    DataRequired(message=_l("部署名を入力してください。")),
    Length(
        max=DEPARTMENT_NAME_MAX_LENGTH,
        message=_l("部署名は%(n)d文字以内にしてください。", n=DEPARTMENT_NAME_MAX_LENGTH),
    ),
    Regexp(r"^[^/]+$", message=_l("部署名に「/」は使えません(CSVで階層の区切りに使います)。")),
]



def _as_written(value: str | None) -> str:
    """A name as the administrator wrote it: only the spaces around it (half- or full-width) go."""
    return (value or "").strip()


def _width_folded(value: str | None) -> str:
    """NFKC, trimmed, inner runs of spaces made one: for codes chosen from a list (雇用形態 such as ﾊﾟｰﾄ)."""
    return " ".join(unicodedata.normalize("NFKC", value or "").split())


def _address(value: str | None) -> str:
    return normalize_email(unicodedata.normalize("NFKC", value or ""))


# How each field's typed value is read before its rules. The initial password is taken as typed.
READ = {
    "login_id": normalize_login_id,
    "name": _as_written,
    "email": _address,
    "employment_type": _width_folded,
    "department": _as_written,
}

# Rules that need the organization's data: the form checks them in its validate_<field>, the
# import when it plans the rows against the learners it already has.
LOGIN_ID_TAKEN = _l("この受講者IDはすでに使われています。")
EMAIL_TAKEN = ADDRESS_UNAVAILABLE
DEPARTMENT_TOO_DEEP = _l("部署は%(n)d階層までです。", n=MAX_DEPARTMENT_DEPTH)


class _Value:
    """What a validator reads of a field, for a value that is not in a form."""

    __slots__ = ("data", "errors", "raw_data")

    def __init__(self, value):
        self.data = value
        self.raw_data = [] if value is None else [value]
        self.errors = []

    @staticmethod
    def gettext(string):
        return string

    @staticmethod
    def ngettext(singular, plural, n):
        return singular if n == 1 else plural


def problem(rules, value) -> str | None:
    """The message of the first rule that ``value`` breaks, or None when it keeps them all."""
    field = _Value(value)
    for rule in rules:
        try:
            rule(None, field)
        except StopValidation as stop:
            return str(stop.args[0]) if stop.args and stop.args[0] else None
        except ValidationError as error:
            return str(error.args[0])
    return None
