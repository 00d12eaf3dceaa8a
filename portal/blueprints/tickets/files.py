"""Ticket attachments: what may be sent, checked by content (never by name alone), and where it lives.

Files are stored under ``<instance>/ticket_files/`` by a random name, outside the web root, and are
served only through the ticket views (as a download, with ``nosniff``).
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from portal.extensions import db

# kind -> (content type, file name extensions)
KINDS = {
    "pdf": ("application/pdf", {".pdf"}),
    "png": ("image/png", {".png"}),
    "jpeg": ("image/jpeg", {".jpg", ".jpeg"}),
    "gif": ("image/gif", {".gif"}),
    "text": ("text/plain", {".txt", ".log"}),
    "csv": ("text/csv", {".csv"}),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", {".docx"}),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", {".xlsx"}),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", {".pptx"}),
}
ACCEPT = {ext for _type, exts in KINDS.values() for ext in exts}
_EXTENSIONS = {ext: kind for kind, (_type, exts) in KINDS.items() for ext in exts}
_OOXML_MARKERS = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml", "pptx": "ppt/presentation.xml"}


class AttachmentRefused(ValueError):
    """The file may not be attached; the message says why, in Japanese."""


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    data: bytes


def storage_dir() -> str:
    path = os.path.join(current_app.instance_path, "ticket_files")
    os.makedirs(path, exist_ok=True)
    return path


def clean_filename(name: str | None) -> str:
    """The name as the user saw it, without a path or control characters (for display and download)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C").strip()
    return name[-200:] or "file"


def check_upload(upload: FileStorage) -> CheckedFile:
    """Read and check one upload.

    :raises AttachmentRefused: too large, empty, of a kind we do not take, or whose name and content
        disagree (a ``.pdf`` that is really a program, a ``.png`` that is a PDF, ...).
    """
    name = clean_filename(upload.filename)
    limit = current_app.config["TICKET_ATTACHMENT_MAX_BYTES"]
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise AttachmentRefused(
            _("「%(name)s」は大きすぎます。1ファイル%(mb)sMBまで添付できます。", name=name, mb=megabytes(limit))
        )
    if not data:
        raise AttachmentRefused(_("「%(name)s」は空のファイルです。", name=name))
    ext = os.path.splitext(name)[1].lower()
    claimed = _EXTENSIONS.get(ext)
    if claimed is None:
        raise AttachmentRefused(
            _(
                "「%(name)s」は添付できない種類のファイルです。PDF、画像(PNG・JPEG・GIF)、テキスト(TXT・CSV)、"
                "Word・Excel・PowerPoint のファイルを添付できます。",
                name=name,
            )
        )
    actual = sniff(data)
    compatible = actual == claimed or (claimed == "csv" and actual == "text")
    if not compatible:
        raise AttachmentRefused(
            _("「%(name)s」はファイル名(拡張子)と中身が一致しません。正しいファイルか確認してください。", name=name)
        )
    return CheckedFile(filename=name, content_type=KINDS[claimed][0], data=data)


def sniff(data: bytes) -> str | None:
    """The kind of file the bytes really are, or None for anything we do not take."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"PK\x03\x04"):
        return _sniff_ooxml(data)
    if _looks_like_text(data):
        return "text"
    return None


def _sniff_ooxml(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    for kind, marker in _OOXML_MARKERS.items():
        if marker in names:
            return kind
    return None


def _looks_like_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    for encoding in ("utf-8", "cp932"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # Control characters other than tab and line breaks mean a binary file.
        return not any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f" for ch in text)
    return False


def store(checked: CheckedFile) -> str:
    """Write the bytes under a random name and return that name.

    The file belongs to the current transaction: if the session rolls back instead of committing, the
    file is removed again, so a failed request leaves no file without its row.
    """
    stored_name = secrets.token_hex(16)
    path = os.path.join(storage_dir(), stored_name)
    with open(path, "xb") as fh:
        fh.write(checked.data)
    db.session.info.setdefault(_PENDING, []).append(path)
    return stored_name


_PENDING = "ticket_files_pending"


@event.listens_for(Session, "after_commit")
def _keep_stored_files(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's commit is not the request's
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _remove_stored_files(session: Session, previous_transaction) -> None:
    if previous_transaction.nested:
        return
    for path in session.info.pop(_PENDING, []):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def path_of(stored_name: str) -> str:
    return os.path.join(storage_dir(), stored_name)


def megabytes(limit: int) -> str:
    value = limit / (1024 * 1024)
    return f"{value:g}"
