"""CSV import of learners, straight from Excel.

Reading (:func:`read_csv`) turns the uploaded bytes into normalised rows and errors by row and
column without touching the database. Planning (:func:`plan_import`) compares the rows with the
organization's learners: what will be created, updated, left alone and (in sync mode) deactivated.
Both run at the preview and again at confirmation, when :func:`apply_import` writes everything in
the request's single transaction with bulk statements.

A file with refused rows is refused whole unless the administrator chooses to import its valid rows
(``valid_rows_only``); the refused rows can then be downloaded as they were written, with the reason
(:func:`refused_rows`), to be corrected and imported again. A 受講者ID matches a learner whatever its case.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, insert, or_, select, update

from portal import audit
from portal.accounts import login_id_key
from portal.blueprints.learners import fields
from portal.blueprints.learners.services import seat_effect, send_invitation
from portal.clock import utcnow
from portal.departments import DepartmentTree
from portal.exports import TextCell
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.jobs import periodic
from portal.models import (
    MAX_DEPARTMENT_DEPTH,
    Department,
    EmploymentType,
    ImportBatch,
    ImportStatus,
    Organization,
    Role,
    User,
)
from portal.passwords import hash_password
from portal.seats import record_seat_usage
from portal.tenancy import unscoped

MAX_ROWS = 20_000
BATCH_TTL = timedelta(hours=2)
# ="00123" is how our own export (and many Excel users) keep an ID as text; read it as the literal.
TEXT_LITERAL_RE = re.compile(r'="([A-Za-z0-9._@-]*)"')
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

COLUMNS = fields.LABELS
_HEADER_ALIASES = {
    "login_id": ("受講者id", "login_id", "loginid", "受講者番号", "社員番号", "id"),
    "name": ("氏名", "名前", "name", "受講者名"),
    "email": ("メールアドレス", "メール", "email", "e-mail", "mail"),
    "department": ("部署", "所属部署", "department", "dept"),
    "employment_type": ("雇用形態", "employment_type", "employmenttype"),
    "initial_password": ("初期パスワード", "パスワード", "initial_password", "password"),
}
HEADER_MAP = {alias: key for key, aliases in _HEADER_ALIASES.items() for alias in aliases}
EMPLOYMENT_MAP = {
    **{str(t): t for t in EmploymentType},
    "正社員": EmploymentType.REGULAR,
    "契約社員": EmploymentType.CONTRACT,
    "派遣社員": EmploymentType.DISPATCHED,
    "派遣": EmploymentType.DISPATCHED,
    "パート・アルバイト": EmploymentType.PART_TIME,
    "パート": EmploymentType.PART_TIME,
    "アルバイト": EmploymentType.PART_TIME,
    "その他": EmploymentType.OTHER,
}


class ImportFileError(Exception):
    """The file as a whole cannot be read; ``message`` says why, in Japanese."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass
class RowError:
    line: int
    column: str
    message: str


@dataclass
class ReadResult:
    encoding: str
    rows: list[dict]
    errors: list[RowError]
    columns: list[str]
    ignored_columns: list[str] = field(default_factory=list)
    # The file's own cells, for the download of refused rows: {"header", "id_column", "records": [[line,
    # cells]], "passwords": [lines]}. The initial password cells are left out (never kept in plain text).
    source: dict = field(default_factory=dict)


# --- reading ----------------------------------------------------------------------------------


def decode(raw: bytes) -> tuple[str, str]:
    """The file's text and the encoding found: UTF-8 with BOM, UTF-8, or Shift_JIS (CP932).

    :raises ImportFileError: binary data, UTF-16/32, an Excel workbook, or bytes that fit no encoding.
    """
    if not raw.strip():
        raise ImportFileError(_l("ファイルが空です。"))
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            _l(
                "Excelのブック形式(.xlsx/.xls)のままです。"
                "Excelの「名前を付けて保存」で「CSV」を選んで保存してください。"
            )
        )
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in raw:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ImportFileError(
                _l(
                    "UTF-16のファイルは読み込めません。"
                    "Excelで「CSV UTF-8」または「CSV(コンマ区切り)」で保存してください。"
                )
            )
        raise ImportFileError(_l("CSVではないデータ(バイナリ)が含まれています。CSVファイルを選んでください。"))
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8-sig"), "UTF-8 (BOM)"
        except UnicodeDecodeError as err:
            raise ImportFileError(_l("UTF-8として読めない文字が含まれています。")) from err
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp932")
    except UnicodeDecodeError as err:
        raise ImportFileError(
            _l("文字コードを判別できません。Shift_JIS(CP932)かUTF-8のCSVで保存してください。")
        ) from err
    return text, "Shift_JIS"


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text)


def _header_key(cell: str) -> str:
    return "".join(unicodedata.normalize("NFKC", cell).split()).lower()


def read_csv(raw: bytes, *, max_bytes: int) -> ReadResult:
    """Parse the upload into normalised rows (``line`` is the row number Excel shows).

    :raises ImportFileError: a problem with the file as a whole (size, encoding, header).
    """
    if len(raw) > max_bytes:
        raise ImportFileError(
            _l(
                "ファイルが大きすぎます(上限 %(mb)d MB)。ファイルを分けて読み込んでください。",
                mb=max(1, max_bytes // 1_000_000),
            )
        )
    text, encoding = decode(raw)
    if _has_control_characters(text):
        raise ImportFileError(_l("CSVではないデータ(制御文字)が含まれています。CSVファイルを選んでください。"))
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as err:
        raise ImportFileError(_l("CSVの形式が正しくありません(引用符「\"」の閉じ忘れなど)。")) from err
    if not records:
        raise ImportFileError(_l("ファイルが空です。"))
    header, data = records[0], records[1:]
    columns: dict[int, str] = {}
    ignored: list[str] = []
    for index, cell in enumerate(header):
        key = HEADER_MAP.get(_header_key(cell))
        if key is None:
            if cell.strip():
                ignored.append(cell.strip())
            continue
        if key in columns.values():
            raise ImportFileError(_l("列「%(name)s」が2回あります。", name=str(COLUMNS[key])))
        columns[index] = key
    if "login_id" not in columns.values():
        raise ImportFileError(
            _l("1行目に「受講者ID」(または login_id)の列が見つかりません。1行目は見出しにしてください。")
        )
    if len(data) > MAX_ROWS:
        raise ImportFileError(_l("一度に読み込めるのは%(n)d行までです。ファイルを分けてください。", n=MAX_ROWS))

    rows: list[dict] = []
    errors: list[RowError] = []
    password_index = next((i for i, key in columns.items() if key == "initial_password"), None)
    records: list[list] = []
    with_password: list[int] = []
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    # Departments, employment types and initial passwords repeat down a file: read each distinct cell once.
    verdicts: dict[tuple[str, str], tuple] = {}
    for number, record in enumerate(data, start=2):
        if not any(cell.strip() for cell in record):
            continue
        kept = record
        if password_index is not None and password_index < len(record) and record[password_index].strip():
            with_password.append(number)
            kept = [*record[:password_index], "", *record[password_index + 1 :]]
        records.append([number, kept])
        row: dict = {"line": number}
        row_errors: list[RowError] = []
        for index, key in columns.items():
            cell = record[index] if index < len(record) else ""
            verdict = verdicts.get((key, cell))
            if verdict is None:
                verdict = verdicts[(key, cell)] = _read_cell(key, cell)
            value, problem = verdict
            if problem:
                row_errors.append(RowError(number, str(COLUMNS[key]), str(problem)))
            row[key] = value
        login_id = row.get("login_id")
        if login_id:
            key = login_id_key(login_id)  # A1 and a1 are the same learner
            if key in seen_ids:
                row_errors.append(
                    RowError(number, str(COLUMNS["login_id"]),
                             str(_l("受講者ID「%(id)s」が%(line)d行目と重複しています。", id=login_id,
                                    line=seen_ids[key])))
                )
            else:
                seen_ids[key] = number
        email = row.get("email")
        if email:
            if email in seen_emails:
                row_errors.append(
                    RowError(number, str(COLUMNS["email"]),
                             str(_l("メールアドレスが%(line)d行目と重複しています。", line=seen_emails[email])))
                )
            else:
                seen_emails[email] = number
        errors.extend(row_errors)
        if not row_errors:
            rows.append(row)
    if not rows and not errors:
        raise ImportFileError(_l("見出しの行のほかにデータがありません。"))
    id_column = next(i for i, key in columns.items() if key == "login_id")
    source = {"header": header, "id_column": id_column, "records": records, "passwords": with_password}
    return ReadResult(encoding, rows, errors, sorted(set(columns.values())), ignored, source)


def _read_cell(key: str, cell: str):
    """The cell's normalised value and the problem with it, if any."""
    literal = TEXT_LITERAL_RE.fullmatch(cell.strip())
    if literal:
        cell = literal.group(1)
    elif cell.lstrip(" ").startswith(FORMULA_PREFIXES):
        return None, _l(
            "「=」「+」「-」「@」で始まるセルは数式とみなされるため読み込めません。先頭の記号を削除してください。"
        )
    if key == "initial_password":  # a password is taken as typed, apart from the spaces around it
        value = cell.strip()
    elif key == "department":
        return _read_department(cell)
    else:
        value = fields.READ[key](cell)  # IDs and addresses width-folded, names as written
    if key == "employment_type" and value:
        # A Japanese label or a code becomes the code; anything else is left for the rule to refuse.
        found = EMPLOYMENT_MAP.get(value) or EMPLOYMENT_MAP.get(value.lower())
        value = str(found) if found is not None else value
    problem = fields.problem(_RULES[key], value)
    if problem:
        return None, problem
    return (value or None) if key in _EMPTY_IS_NONE else value, None


# The same validator chains as the learner forms (fields.py), so both give the same verdict and message.
_RULES = {
    "login_id": fields.LOGIN_ID,
    "name": fields.NAME,
    "email": fields.EMAIL,
    "employment_type": fields.EMPLOYMENT_TYPE,
    "initial_password": fields.INITIAL_PASSWORD,
}
_EMPTY_IS_NONE = ("email", "employment_type", "initial_password")


def _read_department(path: str):
    """A department path such as 営業部/第一課 (or 営業部／第一課): each part is a department name under the
    shared rule, kept as written."""
    path = path.replace("／", "/").strip()
    if not path:
        return None, None
    parts = [fields.READ["department"](p) for p in path.split("/")]
    if any(not p for p in parts):
        return None, _l("部署の書き方が正しくありません(例:営業部/第一課)。")
    if len(parts) > MAX_DEPARTMENT_DEPTH:
        return None, fields.DEPARTMENT_TOO_DEEP
    for part in parts:
        if problem := fields.problem(fields.DEPARTMENT_NAME, part):
            return None, problem
    return "/".join(parts), None


def hash_initial_passwords(rows: list[dict]) -> None:
    """Replace each initial password by its hash, hashing each distinct password once.

    Administrators often give everyone the same initial password; argon2 at ~50 ms per hash would
    otherwise dominate a large import. Learners must change it at first sign-in.
    """
    cache: dict[str, str] = {}
    for row in rows:
        password = row.pop("initial_password", None)
        if password:
            if password not in cache:
                cache[password] = hash_password(password)
            row["password_hash"] = cache[password]


# --- planning ---------------------------------------------------------------------------------


@dataclass
class Plan:
    creates: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)  # {"id", "login_id", "changes": {...}}
    unchanged: int = 0
    deactivations: list[dict] = field(default_factory=list)  # {"id", "login_id", "name"}
    reactivations: int = 0
    new_departments: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    seat: object | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.creates or self.updates or self.deactivations or self.new_departments)

    @property
    def valid_rows(self) -> int:
        """Rows of the file that would be imported: created, updated, or already as written."""
        return len(self.creates) + len(self.updates) + self.unchanged


_UPDATABLE = ("name", "email", "department", "employment_type")
SEATS_COLUMN = _l("上限利用者数")


def plan_import(rows: list[dict], columns: list[str], *, sync: bool, organization_id: int) -> Plan:
    """What importing ``rows`` would do now. Reads only; the caller shows or applies it.

    A row's 受講者ID matches the learner with that ID in any case; the learner keeps the ID as it was
    registered. A row that a rule refuses here (an administrator's ID, an address in use, no seat left)
    is in ``errors`` and in nothing else.
    """
    plan = Plan()
    tree = DepartmentTree.load()
    path_to_id = tree.by_path()
    existing = {
        login_id_key(r.login_id): r
        for r in db.session.execute(
            select(User.id, User.login_id, User.role, User.name, User.email, User.department_id,
                   User.employment_type, User.is_active_flag)
            .where(User.login_id.is_not(None))
        )
    }
    owners = _email_owners([r["email"] for r in rows if r.get("email")])
    new_paths: dict[int, list[str]] = {}
    in_file: set[str] = set()
    for row in rows:
        key = login_id_key(row["login_id"])
        in_file.add(key)
        current = existing.get(key)
        if current is not None and current.role != Role.LEARNER:
            plan.errors.append(RowError(row["line"], str(COLUMNS["login_id"]), str(fields.LOGIN_ID_TAKEN)))
            continue
        email = row.get("email")
        if email and owners.get(email) not in (None, getattr(current, "id", None)):
            plan.errors.append(RowError(row["line"], str(COLUMNS["email"]), str(fields.EMAIL_TAKEN)))
            continue
        path = row.get("department")
        if path and path not in path_to_id:
            new_paths[row["line"]] = [
                prefix
                for depth in range(1, path.count("/") + 2)
                if (prefix := "/".join(path.split("/")[:depth])) not in path_to_id
            ]
        if current is None:
            plan.creates.append(row)
            continue
        changes = {}
        for column in _UPDATABLE:
            if column not in columns:
                continue
            old = (tree.path(current.department_id) or None) if column == "department" else getattr(current, column)
            new = row.get(column)
            if column == "name":
                new, old = new or "", old or ""
            if old != new:
                changes[column] = new
        if not current.is_active_flag:
            changes["active"] = True
        if changes:
            plan.updates.append(
                {"id": current.id, "login_id": current.login_id, "line": row["line"], "changes": changes}
            )
        else:
            plan.unchanged += 1
    if sync:
        plan.deactivations = [
            {"id": r.id, "login_id": r.login_id, "name": r.name}
            for key, r in existing.items()
            if r.role == Role.LEARNER and r.is_active_flag and key not in in_file
        ]
    _refuse_rows_beyond_seats(plan, organization_id)
    kept = {row["line"] for row in plan.creates} | {item["line"] for item in plan.updates}
    plan.new_departments = sorted(
        {path for line, paths in new_paths.items() if line in kept for path in paths},
        key=lambda p: (p.count("/"), p),
    )
    return plan


def _refuse_rows_beyond_seats(plan: Plan, organization_id: int) -> None:
    """Tell what the rows that add a learner (new, or active again) do to the seats; refuse the rows beyond
    the seats left if the seat rule refuses (:func:`rows_beyond_seats`)."""
    adding = sorted(
        [row["line"] for row in plan.creates]
        + [item["line"] for item in plan.updates if item["changes"].get("active")]
    )
    plan.reactivations = len(adding) - len(plan.creates)
    plan.seat = seat_effect(organization_id, len(adding))
    refused = rows_beyond_seats(adding, plan.seat)
    if not refused:
        return
    message = str(getattr(plan.seat, "message", None) or _l("契約の席数を超えるため、登録できません。"))
    plan.errors.extend(RowError(line, str(SEATS_COLUMN), message) for line in refused)
    lines = set(refused)
    plan.creates = [row for row in plan.creates if row["line"] not in lines]
    plan.updates = [item for item in plan.updates if item["line"] not in lines]
    plan.reactivations = sum(1 for item in plan.updates if item["changes"].get("active"))
    plan.seat = seat_effect(organization_id, len(plan.creates) + plan.reactivations)


def rows_beyond_seats(adding: list[int], effect) -> list[int]:
    """Of the rows ``adding`` a learner (line numbers, in file order), those that the seat rule refuses.

    Going over the limit is allowed (Art. 3-2: the difference is charged), so :func:`seat_effect` only
    warns and no row is refused. Should it refuse (``allowed`` false), the rows within the seats left
    stay importable and the rest are refused, each with the reason.
    """
    if effect is None or getattr(effect, "allowed", True):
        return []
    check = effect.check
    left = max(0, (check.limit or 0) - check.used)
    return adding[left:]


def _email_owners(emails: list[str]) -> dict[str, int]:
    owners: dict[str, int] = {}
    with unscoped("addresses are unique across the whole service"):
        for start in range(0, len(emails), 500):
            chunk = emails[start : start + 500]
            owners.update(db.session.execute(select(User.email, User.id).where(User.email.in_(chunk))).all())
    return owners


# --- batches and applying ---------------------------------------------------------------------


def create_batch(result: ReadResult, *, filename: str, sync: bool, invite: bool, by: User) -> ImportBatch:
    """Keep the parsed rows server-side until the administrator confirms or cancels."""
    hash_initial_passwords(result.rows)
    batch = ImportBatch(
        organization_id=by.organization_id,
        created_by_id=by.id,
        filename=filename[:255],
        encoding=result.encoding,
        sync=sync,
        invite=invite,
        rows={"columns": result.columns, "rows": result.rows,
              "errors": [e.__dict__ for e in result.errors], "ignored": result.ignored_columns,
              "source": result.source},
        expires_at=utcnow() + BATCH_TTL,
    )
    db.session.add(batch)
    db.session.flush()
    audit.record("learners.import_previewed", target=batch, rows=len(result.rows), errors=len(result.errors))
    return batch


def get_pending_batch(batch_id: int, by: User) -> ImportBatch | None:
    """The caller's own pending, unexpired batch, or None (another organization's id finds nothing)."""
    batch = db.session.scalar(
        select(ImportBatch).where(ImportBatch.id == batch_id, ImportBatch.created_by_id == by.id)
    )
    if batch is None or batch.status != ImportStatus.PENDING or batch.expires_at <= utcnow():
        return None
    return batch


def get_batch_with_refusals(batch_id: int, by: User) -> ImportBatch | None:
    """The caller's own unexpired batch whose refused rows may be downloaded: still pending, or applied
    for its valid rows only. None otherwise (another organization's id finds nothing)."""
    batch = db.session.scalar(
        select(ImportBatch).where(ImportBatch.id == batch_id, ImportBatch.created_by_id == by.id)
    )
    if batch is None or batch.expires_at <= utcnow():
        return None
    return batch if batch.status in (ImportStatus.PENDING, ImportStatus.PARTIAL) else None


def partial_imports(by: User) -> list[ImportBatch]:
    """The caller's recent imports of valid rows only whose refused rows can still be downloaded."""
    return list(
        db.session.scalars(
            select(ImportBatch)
            .where(ImportBatch.created_by_id == by.id, ImportBatch.status == ImportStatus.PARTIAL,
                   ImportBatch.expires_at > utcnow())
            .order_by(ImportBatch.id.desc())
            .limit(5)
        )
    )


def batch_errors(batch: ImportBatch) -> list[RowError]:
    return [RowError(**e) for e in batch.rows.get("errors", [])]


@dataclass
class Review:
    """A pending batch as it stands now: the plan of its valid rows and every refused row with its reasons."""

    plan: Plan
    errors: list[RowError]

    @property
    def refused_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})

    @property
    def fingerprint(self) -> str:
        """Which rows are refused: the confirmation of the valid rows must see the same rows refused."""
        lines = ",".join(str(line) for line in self.refused_lines)
        return hashlib.sha256(lines.encode()).hexdigest()[:16]


def review_batch(batch: ImportBatch, organization_id: int) -> Review:
    """Plan the batch's rows against the organization's learners as they are now. Reads only."""
    plan = plan_import(batch.rows["rows"], batch.rows["columns"], sync=batch.sync, organization_id=organization_id)
    errors = sorted(batch_errors(batch) + plan.errors, key=lambda e: (e.line, e.column))
    return Review(plan, errors)


def cancel_batch(batch: ImportBatch) -> None:
    batch.status = ImportStatus.CANCELLED
    batch.rows = {}
    audit.record("learners.import_cancelled", target=batch)
    db.session.flush()


class ImportRefused(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def apply_import(batch: ImportBatch, organization: Organization, *, valid_rows_only: bool = False,
                 refused: str | None = None) -> Plan:
    """Write the batch: departments, new learners, updates, deactivations; one transaction, bulk.

    By default the whole file or nothing. With ``valid_rows_only`` (the administrator's explicit choice)
    the refused rows are left out and kept for their download; ``refused`` is the fingerprint of the
    refused rows the administrator saw (:attr:`Review.fingerprint`).

    :raises ImportRefused: the file still has errors (by default); for the valid rows only: the file was
        read in sync mode, the refused rows are not the ones shown, or no row is left to import; in both
        cases when the database changed so that rows now fail.
    """
    current = review_batch(batch, organization.id)
    plan = current.plan
    if not valid_rows_only:
        if batch.rows.get("errors"):
            raise ImportRefused(_l("エラーのある行が残っています。CSVを修正して、もう一度読み込んでください。"))
        if plan.errors and all(e.column == str(SEATS_COLUMN) for e in plan.errors):
            raise ImportRefused(plan.errors[0].message)
        if plan.errors:
            raise ImportRefused(
                _l("プレビューの後に登録内容が変わったため、読み込めない行があります。もう一度プレビューしてください。")
            )
    else:
        if batch.sync:
            raise ImportRefused(
                _l("同期モードでは、すべての行が正しいときだけ読み込めます。CSVを修正して、もう一度読み込んでください。")
            )
        if refused != current.fingerprint:
            raise ImportRefused(
                _l("確認した後に読み込めない行が変わりました。内容をもう一度確認してください。何も登録していません。")
            )
        if plan.valid_rows == 0:
            raise ImportRefused(_l("読み込める行がありません。CSVを修正して、もう一度読み込んでください。"))
    path_to_id = _create_departments(plan.new_departments)
    now = utcnow()
    if plan.creates:
        # Core's insert of the table, every row with the same keys: one executemany (psycopg 3 pipelines
        # it). The ORM's bulk insert of the entity left out each row's None values and, on PostgreSQL, sent
        # the rows one INSERT at a time (13 s of a 10,000-row confirmation).
        db.session.execute(
            insert(User.__table__),
            [
                {
                    "organization_id": organization.id,
                    "role": str(Role.LEARNER),
                    "login_id": row["login_id"],
                    "name": row.get("name") or "",
                    "email": row.get("email"),
                    "department_id": path_to_id.get(row.get("department")),
                    "employment_type": row.get("employment_type"),
                    "password_hash": row.get("password_hash"),
                    "must_change_password": bool(row.get("password_hash")),
                    "created_at": now,
                }
                for row in plan.creates
            ],
        )
    if plan.updates:
        params = []
        for item in plan.updates:
            values = {"id": item["id"]}
            for key, value in item["changes"].items():
                if key == "department":
                    values["department_id"] = path_to_id.get(value)
                elif key == "active":
                    values["is_active_flag"] = True
                else:
                    values[key] = value
            params.append(values)
        db.session.execute(update(User), params)
    if plan.deactivations:
        ids = [d["id"] for d in plan.deactivations]
        for start in range(0, len(ids), 500):
            db.session.execute(
                update(User).where(User.id.in_(ids[start : start + 500])).values(is_active_flag=False),
                execution_options={"synchronize_session": False},
            )
    if batch.invite:
        _invite_new_learners(plan, batch, organization)
    details = {}
    if current.errors:  # the administrator chose to import the valid rows only
        batch.status = ImportStatus.PARTIAL
        batch.rows = {"refused": refused_rows(batch, current.errors)}
        batch.expires_at = now + BATCH_TTL  # time to download them, however long the preview took
        details = {"valid_rows_only": True, "imported": plan.valid_rows, "refused": len(current.refused_lines)}
    else:
        batch.status = ImportStatus.APPLIED
        batch.rows = {}
    audit.record(
        "learners.imported",
        target=batch,
        created=len(plan.creates),
        updated=len(plan.updates),
        deactivated=len(plan.deactivations),
        departments_created=len(plan.new_departments),
        **details,
    )
    db.session.flush()
    record_seat_usage(organization.id)
    return plan


def _create_departments(new_paths: list[str]) -> dict[str, int]:
    tree = DepartmentTree.load()
    path_to_id = tree.by_path()
    for path in new_paths:  # parents first: sorted by depth
        parent_path, _, name = path.rpartition("/")
        parent_id = path_to_id.get(parent_path) if parent_path else None
        department = Department(name=name, parent_id=parent_id, depth=path.count("/") + 1)
        db.session.add(department)
        db.session.flush()
        path_to_id[path] = department.id
        audit.record("departments.created", target=department, name=name, parent_id=parent_id, via="import")
    return path_to_id


def _invite_new_learners(plan: Plan, batch: ImportBatch, organization: Organization) -> None:
    login_ids = [row["login_id"] for row in plan.creates if row.get("email")]
    by = db.session.get(User, batch.created_by_id) if batch.created_by_id else None
    for start in range(0, len(login_ids), 500):
        learners = db.session.scalars(select(User).where(User.login_id.in_(login_ids[start : start + 500])))
        for learner in learners:
            send_invitation(learner, organization, by=by)


@periodic("learners.purge_import_batches", every=timedelta(hours=1))
def purge_import_batches(now) -> None:
    """Delete batches that were applied, cancelled or left to expire (they may hold password hashes); the
    refused rows of an import of valid rows only stay until they expire."""
    kept = ImportBatch.status.in_([ImportStatus.PENDING, ImportStatus.PARTIAL])
    db.session.execute(
        delete(ImportBatch)
        .where(or_(~kept, ImportBatch.expires_at <= now))
        .execution_options(synchronize_session=False)
    )


# --- the refused rows, as they were written -------------------------------------------------------

REASON_HEADER = "理由"


def refused_rows(batch: ImportBatch, errors: list[RowError]) -> dict:
    """The refused rows as the file had them, each with its reasons: ``{"header", "id_column", "rows"}``.

    A column of reasons from an earlier download (the administrator corrected that file and imported it
    again) is left out: the new reasons replace it. Initial passwords were never kept: such a row says so.
    """
    source = batch.rows.get("source") or {}
    reasons: dict[int, list[str]] = {}
    for error in errors:
        reasons.setdefault(error.line, []).append(f"{error.column}: {error.message}")
    with_password = set(source.get("passwords", []))
    no_password = str(_l("初期パスワードは保存していないため空欄です。元のファイルから入力してください。"))
    records = dict(source.get("records", []))
    header = list(source.get("header", []))
    dropped = {i for i, cell in enumerate(header) if _header_key(cell) == REASON_HEADER}
    id_column = source.get("id_column")
    rows = []
    for line, messages in sorted(reasons.items()):
        if line in with_password:
            messages = [*messages, no_password]
        cells = records.get(line, [])
        rows.append({
            "line": line,
            "cells": [c for i, c in enumerate(cells) if i not in dropped],
            "reason": str(_l("%(line)d行目", line=line)) + " " + " / ".join(messages),
        })
    if id_column is not None:
        id_column -= sum(1 for i in dropped if i < id_column)
    return {"header": [c for i, c in enumerate(header) if i not in dropped], "id_column": id_column, "rows": rows}


def refused_csv(refused: dict) -> tuple[list[str], list[list]]:
    """Header and rows of the download: the file's columns (as wide as its widest refused row), then 理由.

    The 受講者ID cell is written so that Excel keeps it as text (00123 stays 00123).
    """
    width = max([len(refused["header"]), *(len(r["cells"]) for r in refused["rows"])])
    header = [*refused["header"], *[""] * (width - len(refused["header"])), REASON_HEADER]
    id_column = refused.get("id_column")
    rows = []
    for row in refused["rows"]:
        cells = [*row["cells"], *[""] * (width - len(row["cells"]))]
        if id_column is not None and id_column < width:
            literal = TEXT_LITERAL_RE.fullmatch(cells[id_column].strip())
            cells[id_column] = TextCell(literal.group(1) if literal else cells[id_column])
        rows.append([*cells, row["reason"]])
    return header, rows
