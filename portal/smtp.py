"""Talking SMTP for the worker: one Flask-Mail connection per batch, messages built from outbox rows,
and every server answer turned into a :class:`Failure` the worker can act on (retry or dead)."""

from __future__ import annotations

import email.charset
import email.policy
import functools
import smtplib
from dataclasses import dataclass
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate
from typing import Protocol

from email_validator import validate_email
from flask import current_app
from flask_mail import BadHeaderError, Connection, Message, sanitize_address, sanitize_addresses

from portal.extensions import mail


class Sendable(Protocol):
    """What :func:`send_one` needs from an outbox row."""

    to_address: str
    subject: str
    body_text: str
    body_html: str | None
    message_id: str
    reply_to: str | None


@dataclass
class Failure:
    """Why one delivery did not succeed. ``permanent`` ends the row as dead."""

    error: str
    permanent: bool
    # A 5xx about the recipient: counts towards suppressing the address.
    hard_bounce: bool = False
    # The SMTP connection cannot be used any more.
    broken_connection: bool = False


class SmtpConnection(Connection):
    """Flask-Mail's connection, configured from the app config when it opens and with a socket timeout
    (Flask-Mail's own has none, and a hung server must not hang the worker)."""

    def __init__(self):
        super().__init__(mail.init_mail(current_app.config, testing=False))

    def configure_host(self) -> smtplib.SMTP:
        state, timeout = self.mail, current_app.config["MAIL_TIMEOUT"]
        if state.use_ssl:
            host = smtplib.SMTP_SSL(state.server, state.port, timeout=timeout)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=timeout)
        try:
            if state.use_tls:
                host.starttls()
            if state.username and state.password:
                host.login(state.username, state.password)
            # Learn the server's extensions now, so that the first message can use 8BITMIME too.
            host.ehlo_or_helo_if_needed()
        except BaseException:
            host.close()
            raise
        return host

    def open(self) -> SmtpConnection:
        self.host = None if self.mail.suppress else self.configure_host()
        self.num_emails = 0
        return self

    def close(self) -> None:
        host, self.host = self.host, None
        if host is None:
            return
        try:
            host.quit()
        except (smtplib.SMTPException, OSError):
            host.close()


# Flask-Mail renders with email.policy.SMTP, whose header folding costs several ms a message; the
# compat32 generator with the same CRLF line ends is ~10x faster and folds encoded words correctly.
_SMTP_COMPAT32 = email.policy.compat32.clone(linesep="\r\n")


_UTF8_BASE64 = email.charset.Charset("utf-8")
_UTF8_BASE64.body_encoding = email.charset.BASE64


@functools.lru_cache(maxsize=16)
def _encoded_address(address: str) -> str:
    return sanitize_address(address)


class OutboxEmail(Message):
    """Flask-Mail's message, assembled leaner: multipart/alternative (text + HTML) without the
    multipart/mixed wrapper Flask-Mail adds for attachments we never send, the sender encoded once
    per worker, and a subject that folds between encoded words."""

    def _mimetext(self, text: str | None, subtype: str = "plain") -> MIMEText:
        text = text or ""
        # 8bit (Flask-Mail's choice for UTF-8) keeps the source readable, but SMTP forbids lines over
        # 998 octets and a Japanese paragraph reaches that at ~330 characters: such bodies go base64.
        if any(len(line.encode()) > 900 for line in text.splitlines()):
            return MIMEText(text, subtype, _charset=_UTF8_BASE64)
        return MIMEText(text, subtype, _charset="utf-8")

    def _message(self) -> MIMEBase:
        text = self._mimetext(self.body, "plain")
        mime = MIMEMultipart("alternative", _subparts=[text, self._mimetext(self.html, "html")]) if self.html else text
        mime.policy = _SMTP_COMPAT32
        mime["Subject"] = self.subject if self.subject.isascii() else Header(self.subject, "utf-8")
        mime["From"] = _encoded_address(self.sender)
        mime["To"] = ", ".join(sanitize_addresses(self.recipients))
        mime["Date"] = formatdate(self.date, localtime=True)
        mime["Message-ID"] = self.msgId
        for name, value in (self.extra_headers or {}).items():
            mime[name] = value
        return mime


def build_message(message: Sendable, recipient: str) -> Message:
    """The email for one outbox row, with the row's stable Message-ID (and its Reply-To, if any)."""
    headers = {"Auto-Submitted": "auto-generated"}
    if message.reply_to:
        headers["Reply-To"] = message.reply_to
    outgoing = OutboxEmail(
        subject=message.subject,
        recipients=[recipient],
        body=message.body_text,
        html=message.body_html,
        extra_headers=headers,
    )
    outgoing.msgId = message.message_id
    return outgoing


def _smtp_answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def send_one(connection: SmtpConnection, message: Sendable, recipient: str) -> Failure | None:
    """Hand one message to the SMTP server. None when it was accepted."""
    outgoing = build_message(message, recipient)
    if connection.host is not None and connection.host.has_extn("8bitmime"):
        outgoing.mail_options = ["BODY=8BITMIME"]
    try:
        connection.send(outgoing)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        answer = _smtp_answer(code, text)
        return Failure(answer, permanent=code >= 500, hard_bounce=code >= 500)
    except smtplib.SMTPDataError as exc:
        answer = _smtp_answer(exc.smtp_code, exc.smtp_error)
        return Failure(answer, permanent=exc.smtp_code >= 500, hard_bounce=exc.smtp_code >= 500)
    except smtplib.SMTPResponseException as exc:
        # Refused sender, 421 "closing", authentication: not the recipient's fault.
        answer = _smtp_answer(exc.smtp_code, exc.smtp_error)
        return Failure(answer, permanent=exc.smtp_code >= 500, broken_connection=exc.smtp_code == 421)
    except BadHeaderError:
        return Failure("bad header (newline in subject or address)", permanent=True)
    except (OSError, smtplib.SMTPException) as exc:
        # SMTPServerDisconnected, timeouts, resets: the connection is gone, the message may be fine.
        return Failure(f"connection error: {type(exc).__name__}: {exc}", permanent=False, broken_connection=True)
    return None


def deliverable_address(address: str) -> str:
    """The address to hand to SMTP (IDN domains as punycode). :raises EmailNotValidError:"""
    checked = validate_email(address, check_deliverability=False, globally_deliverable=False)
    return checked.ascii_email or checked.normalized
