"""修了証: what a certificate says, its PDF, and a zip of a delivery's certificates that streams.

The learner reads their own (quizzes), the organization's administrator any of its learners' and a manager
those of their departments (training); both read them here. Only a passed assignment has a certificate:
:func:`get_certificate_or_404` refuses the others with a page that says so.

The PDF is drawn with ReportLab in Adobe's Japanese CID fonts (HeiseiMin-W3, HeiseiKakuGo-W5): ReportLab
knows their metrics, so no font file is needed on the server, and the reader's PDF viewer supplies the
glyphs (every Japanese system has them). A certificate is a few kilobytes and takes milliseconds, so
a delivery of thousands is zipped while it downloads: each PDF is written into the zip and sent at once
(:func:`zip_chunks`), and the rows are read in batches of their own short transactions.

The certificate is issued in Japanese whatever the reader's language: it is the same document for the
learner, the organization and anyone who checks it at /verify.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

import segno
from flask import Response, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import Select, func, select

from portal.clock import TOKYO
from portal.exports import content_disposition
from portal.extensions import db
from portal.models import Assignment, AssignmentStatus, Course, Delivery, Organization, User
from portal.outbox import external_url
from portal.rules import NotFound
from portal.tenancy import current_scope, reset_scope, set_scope

MINCHO = "HeiseiMin-W3"
GOTHIC = "HeiseiKakuGo-W5"
# Rows read per transaction while a zip streams: a slow download holds no transaction open for long.
BATCH = 200
# Certificates per zip. Drawing one takes about 3 ms of one core: a zip of 2,000 is a few seconds, well within
# the 30 seconds gunicorn gives one request (gunicorn.conf.py); a larger delivery is downloaded in parts.
ZIP_PART_SIZE = 2000
_INK = Color(0.10, 0.16, 0.32)
_GREY = Color(0.35, 0.35, 0.35)


@dataclass(frozen=True)
class Certificate:
    """Everything a certificate shows, read in one statement."""

    assignment_id: int
    code: str
    learner_name: str
    login_id: str | None
    organization_name: str
    course_title: str
    fiscal_year: int
    passed_at: datetime
    score: int | None
    pass_mark: int

    @property
    def course_label(self) -> str:
        """「course」（2026年度版）, without the year when the title says it already (情報セキュリティ基礎 2026年度)."""
        if str(self.fiscal_year) in unicodedata.normalize("NFKC", self.course_title or ""):
            return _("「%(course)s」", course=self.course_title)
        return _("「%(course)s」（%(year)d年度版）", course=self.course_title, year=self.fiscal_year)

    @property
    def passed_on(self) -> date:
        """The day of passing in Tokyo."""
        return self.passed_at.astimezone(TOKYO).date()

    @property
    def verify_url(self) -> str:
        return external_url("training_links.verify", code=self.code)


def issuer() -> str:
    """Who issues the certificate: ``CERTIFICATE_ISSUER``, else the operator's company name."""
    config = current_app.config
    return config.get("CERTIFICATE_ISSUER") or config["INVOICE_ISSUER_NAME"]


def japanese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# --- reading ---------------------------------------------------------------------------------------------


def _select() -> Select:
    return (
        select(Assignment.id, Assignment.certificate_code, User.name, User.login_id, Organization.name,
               Course.title, Course.fiscal_year, Assignment.passed_at, Assignment.best_score, Course.pass_mark,
               Assignment.status)
        .join(User, User.id == Assignment.learner_id)
        .join(Organization, Organization.id == Assignment.organization_id)
        .join(Delivery, Delivery.id == Assignment.delivery_id)
        .join(Course, Course.id == Delivery.course_id)
    )


def _certificate(row) -> Certificate:
    return Certificate(row[0], row[1], row[2] or row[3] or "", row[3], row[4], row[5], row[6], row[7], row[8],
                       row[9])


def _issued(row) -> bool:
    return row[10] == AssignmentStatus.PASSED and bool(row[1]) and row[7] is not None


def get_certificate_or_404(assignment_id: int, *, learner_id: int | None = None, learners=None) -> Certificate:
    """The certificate of the assignment, in the request's organization.

    ``learner_id`` narrows it to that learner's own assignments, ``learners`` (a select of user ids) to a
    manager's learners.

    :raises NotFound: no such assignment within those limits (another organization's, another learner's);
        or one whose learner has not passed, with a page that says there is no certificate yet.
    """
    stmt = _select().where(Assignment.id == assignment_id)
    if learner_id is not None:
        stmt = stmt.where(Assignment.learner_id == learner_id)
    if learners is not None:
        stmt = stmt.where(Assignment.learner_id.in_(learners))
    row = db.session.execute(stmt).first()
    if row is None:
        raise NotFound
    if not _issued(row):
        raise NotFound(_("修了証はまだありません"), _("修了証は、研修のテストに合格すると発行されます。"))
    return _certificate(row)


def _delivery_criteria(delivery_id: int, learners) -> list:
    criteria = [Assignment.delivery_id == delivery_id, Assignment.status == AssignmentStatus.PASSED,
                Assignment.certificate_code.is_not(None), Assignment.passed_at.is_not(None)]
    if learners is not None:
        criteria.append(Assignment.learner_id.in_(learners))
    return criteria


def count_certificates(delivery_id: int, learners=None) -> int:
    return db.session.scalar(
        select(func.count(Assignment.id)).where(*_delivery_criteria(delivery_id, learners))
    ) or 0


def zip_parts(total: int) -> list[tuple[int, int, int]]:
    """(part, first, last) for each zip of ``total`` certificates: their positions in the delivery, from 1."""
    size = ZIP_PART_SIZE
    return [(n + 1, n * size + 1, min(total, (n + 1) * size)) for n in range(math.ceil(total / size))]


def delivery_certificates(delivery_id: int, learners=None, *, skip: int = 0, limit: int | None = None,
                          batch: int = BATCH) -> Iterator[Certificate]:
    """The delivery's certificates in the order of their assignments, from the ``skip``-th on, at most
    ``limit``; ``batch`` rows per statement (keyset on the assignment id). Each batch's read transaction ends
    before its certificates are used, so this runs outside a request's transaction (it rolls back)."""
    criteria = _delivery_criteria(delivery_id, learners)
    after = 0
    if skip:
        after = db.session.scalar(
            select(Assignment.id).where(*criteria).order_by(Assignment.id).offset(skip - 1).limit(1)
        )
        if after is None:
            db.session.rollback()
            return
    left = limit
    while left is None or left > 0:
        size = batch if left is None else min(batch, left)
        rows = db.session.execute(
            _select().where(*criteria, Assignment.id > after).order_by(Assignment.id).limit(size)
        ).all()
        db.session.rollback()
        for row in rows:
            yield _certificate(row)
        if len(rows) < size:
            return
        after = rows[-1][0]
        if left is not None:
            left -= len(rows)


# --- the PDF ---------------------------------------------------------------------------------------------

_fonts_registered = False


def _register_fonts() -> None:
    global _fonts_registered
    if not _fonts_registered:
        pdfmetrics.registerFont(UnicodeCIDFont(MINCHO))
        pdfmetrics.registerFont(UnicodeCIDFont(GOTHIC))
        _fonts_registered = True


def printable(text: str) -> str:
    """``text`` without control characters and with lone surrogates replaced (the fonts' encoding is
    UTF-16 and refuses them)."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text or "")
    return text.encode("utf-16", "replace").decode("utf-16").strip()


def _fit(text: str, font: str, size: float, width: float, *, smallest: float,
         lines: int = 2) -> tuple[float, list[str]]:
    """The size and lines at which ``text`` fits ``width``: smaller first, down to ``smallest``, then broken
    into at most ``lines`` lines (the last one cut with an ellipsis)."""
    while size > smallest and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 1
    out, current = [], ""
    for char in text:
        if pdfmetrics.stringWidth(current + char, font, size) > width:
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    if len(out) > lines:
        out = out[:lines]
        last = out[-1]
        while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
            last = last[:-1]
        out[-1] = last + "…"
    return size, out


def _centred(canvas: Canvas, text: str, font: str, size: float, y: float, *, smallest: float, lines: int = 1,
             width: float = 640) -> float:
    """Draw ``text`` centred on the landscape page from ``y`` down; returns the y below it."""
    size, rows = _fit(text, font, size, width, smallest=smallest, lines=lines)
    canvas.setFont(font, size)
    middle = landscape(A4)[0] / 2
    for row in rows:
        canvas.drawCentredString(middle, y, row)
        y -= size * 1.35
    return y


def _qr(canvas: Canvas, url: str, x: float, y: float, side: float) -> None:
    """The verification URL as a QR code, drawn as vector rectangles (one per run of dark modules).

    The mask is fixed: choosing the best of eight costs more than the whole rest of the page.
    """
    matrix = segno.make(url, error="m", micro=False, mask=0, boost_error=False).matrix
    n = len(matrix)
    module = side / (n + 2)
    canvas.saveState()
    canvas.translate(x + module, y + module)
    canvas.scale(module, module)
    path = canvas.beginPath()
    for row_index, row in enumerate(matrix):
        top = n - 1 - row_index
        start = None
        for column, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                path.rect(start, top, column - start, 1)
                start = None
    canvas.setFillColor(_INK)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()


def render_pdf(certificate: Certificate) -> bytes:
    """The certificate as a one-page A4 landscape PDF (Japanese)."""
    _register_fonts()
    buffer = io.BytesIO()
    width, height = landscape(A4)
    with force_locale("ja"):
        canvas = Canvas(buffer, pagesize=(width, height), pageCompression=1)
        canvas.setTitle(_("修了証") + f" {certificate.code}")
        canvas.setAuthor(printable(issuer()))
        canvas.setSubject(printable(certificate.course_title))
        canvas.setCreator(_("セキュトレ"))
        canvas.setStrokeColor(_INK)
        canvas.setLineWidth(3)
        canvas.rect(22, 22, width - 44, height - 44)
        canvas.setLineWidth(0.8)
        canvas.rect(30, 30, width - 60, height - 60)

        canvas.setFillColor(_INK)
        canvas.setFont(MINCHO, 44)
        canvas.drawCentredString(width / 2, height - 118, _("修了証"), charSpace=18)
        canvas.setFont(GOTHIC, 10)
        canvas.drawCentredString(width / 2, height - 140, "CERTIFICATE OF COMPLETION", charSpace=2)

        canvas.setFillColor(Color(0, 0, 0))
        _centred(canvas, printable(certificate.organization_name), MINCHO, 16, 388, smallest=10)
        name = _("%(name)s 殿", name=printable(certificate.learner_name))
        _centred(canvas, name, MINCHO, 30, 344, smallest=14)
        canvas.setLineWidth(0.6)
        canvas.line(width / 2 - 200, 334, width / 2 + 200, 334)
        _centred(canvas, _("あなたは下記の研修を修了したことを証します。"), MINCHO, 14, 292, smallest=14)
        course = printable(certificate.course_label)
        y = _centred(canvas, course, MINCHO, 18, 250, smallest=11, lines=2)
        facts = _("修了日: %(when)s", when=japanese_date(certificate.passed_on))
        if certificate.score is not None:
            facts += "　　" + _("得点: %(score)d点（合格基準 %(mark)d点）", score=certificate.score,
                                 mark=certificate.pass_mark)
        _centred(canvas, facts, MINCHO, 14, min(y - 8, 212), smallest=9)

        canvas.setFont(MINCHO, 13)
        canvas.drawRightString(width - 70, 120, _("発行者"))
        issued_by = printable(issuer())
        size, rows = _fit(issued_by, MINCHO, 17, 330, smallest=11)
        canvas.setFont(MINCHO, size)
        canvas.drawRightString(width - 70, 98, rows[0])
        canvas.setFont(GOTHIC, 9)
        canvas.drawRightString(width - 70, 80, _("情報セキュリティ教育サービス「セキュトレ」"))

        _qr(canvas, certificate.verify_url, 56, 52, 78)
        canvas.setFillColor(_GREY)
        canvas.setFont(GOTHIC, 9)
        canvas.drawString(142, 112, _("確認コード: %(code)s", code=certificate.code))
        canvas.drawString(142, 98, _("確認URL: %(url)s", url=certificate.verify_url))
        canvas.drawString(142, 84, _("この修了証が有効かどうかは、上記のURLまたはQRコードで確認できます。"))
        canvas.showPage()
        canvas.save()
    return buffer.getvalue()


# --- names, responses, the zip ---------------------------------------------------------------------------

_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')


def _safe(text: str, limit: int = 40) -> str:
    return _UNSAFE.sub("_", printable(text)).strip("._")[:limit]


def pdf_filename(certificate: Certificate) -> str:
    """修了証_<login id>_<name>.pdf (the code instead of the login id when there is none)."""
    who = _safe(certificate.login_id or certificate.code, 64)
    with force_locale("ja"):
        return f"{_('修了証')}_{who}_{_safe(certificate.learner_name) or certificate.code}.pdf"


def pdf_response(certificate: Certificate) -> Response:
    response = Response(render_pdf(certificate), mimetype="application/pdf")
    response.headers["Content-Disposition"] = content_disposition(pdf_filename(certificate))
    return response


class _Chunks(io.RawIOBase):
    """A write-only stream that keeps what was written until it is taken: the zip is written into it and
    sent in pieces. It cannot seek, so zipfile writes each entry's sizes after its data."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def zip_chunks(certificates: Iterable[Certificate]) -> Iterator[bytes]:
    """A zip of one PDF per certificate, yielded a PDF at a time: memory holds one certificate, not the zip."""
    sink = _Chunks()
    used: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for certificate in certificates:
            name = pdf_filename(certificate)
            if name in used:
                name = f"{name[:-4]}_{certificate.code}.pdf"
            used.add(name)
            moment = certificate.passed_at.astimezone(TOKYO)
            entry = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, render_pdf(certificate))
            yield sink.take()
    yield sink.take()


def _step_by_step(produce: Callable[[], Iterator[bytes]]) -> Iterator[bytes]:
    """``produce()``'s chunks while the response streams, after the request has ended.

    Each chunk is made in an app context of its own, in the request's tenant scope, pushed and popped around
    that step only: no context is left behind between two chunks, nor when the download stops half-way and
    the garbage collector closes what is left. So nothing may keep a database session across chunks
    (:func:`delivery_certificates` reads each batch in a transaction of its own).
    """
    app = current_app._get_current_object()
    scope = current_scope()

    def generate() -> Iterator[bytes]:
        chunks: Iterator[bytes] | None = None
        while True:
            with app.app_context():
                token = set_scope(scope)
                try:
                    if chunks is None:
                        chunks = produce()
                    chunk = next(chunks, None)
                finally:
                    reset_scope(token)
            if chunk is None:
                return
            yield chunk

    return generate()


def zip_response(filename: str, delivery_id: int, part: int = 1) -> Response:
    """A streamed zip of the delivery's certificates of ``part`` (:func:`zip_parts`): read, drawn and zipped
    while it downloads."""
    size = ZIP_PART_SIZE
    body = _step_by_step(lambda: zip_chunks(delivery_certificates(delivery_id, skip=(part - 1) * size,
                                                                 limit=size)))
    response = Response(body, mimetype="application/zip")
    response.headers["Content-Disposition"] = content_disposition(filename)
    return response
