"""Email into tickets: a reply to a ticket's notification is added to the ticket.

Every ticket notification carries ``Reply-To: <local>+t<ticket id>.<code>@<domain>`` (``MAIL_IN_ADDRESS``),
where the code is an HMAC of the ticket id under ``SECRET_KEY``: nobody can write to a ticket whose
notification they did not receive. :func:`receive` takes one email for one such address; the listener
(``flask mail-in``, :mod:`portal.mail_listener`) hands it over and commits.

What :func:`receive` promises and refuses:

* The sender (``From:``) must be on the ticket: its requester, a user of the ticket's organization who
  wrote on it, or active support staff. Anyone else is refused at the SMTP level (their own server
  tells them; nothing about the ticket is said) and the refusal is audited.
* Quoted text is dropped: lines starting with ``>`` and everything from an "On ... wrote:",
  「...に書きました:」, "-----Original Message-----", 「-----元のメッセージ-----」 or Outlook
  "From:/Sent:" header block onwards.
* Attachments pass the checks of the upload form (kind by content, size per file, count per message).
* A known sender whose email cannot be added (attachment refused, closed or merged ticket, empty or
  too long) gets an automatic reply saying why, never to an automatic message (no mail loops).
* The same email (same Message-ID) delivered again adds nothing.
"""

from __future__ import annotations

import enum
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from portal import audit
from portal.blueprints.tickets import files, services
from portal.blueprints.tickets.forms import BODY_MAX
from portal.blueprints.tickets.reply_address import ticket_id_from_address
from portal.extensions import db
from portal.models import STAFF_ROLES, Ticket, TicketMessage, User
from portal.outbox import external_url, queue_email
from portal.tenancy import tenant_scope, unscoped

log = logging.getLogger("portal.mail_in")

# --- reading the email ------------------------------------------------------------------------------


class UnreadableEmail(ValueError):
    """The bytes are not an email we can read (no usable sender, broken structure)."""


@dataclass
class Inbound:
    digest: str
    sender: str
    body: str
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    # Sent by a machine (auto-reply, bounce, list): never answered automatically.
    automatic: bool = False


_QUOTE_STARTS = [
    re.compile(
        r"^\s*-{2,}\s*(original message|元のメッセージ|転送されたメッセージ|forwarded message)\s*-{2,}\s*$", re.I
    ),
    re.compile(r"^\s*On\b.*\bwrote:\s*$", re.I),
    re.compile(r"^.*(に書きました|が書きました|さんは書きました)\s*[:：]\s*$"),
    re.compile(r"^\s*\d{4}年\s*\d{1,2}月\s*\d{1,2}日.*<[^>\s]+@[^>\s]+>\s*[:：]?\s*$"),
    re.compile(r"^\s*\d{4}/\d{1,2}/\d{1,2}.*<[^>\s]+@[^>\s]+>\s*[:：]\s*$"),
]
_OUTLOOK_FROM = re.compile(r"^\s*(\*?From:|差出人\s*[:：])", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*(\*?Sent:|\*?Date:|送信日時\s*[:：]|日時\s*[:：]|宛先\s*[:：]|To:)", re.I)


def strip_quoted(text: str) -> str:
    """The new text of a reply: quoted lines and the quoted earlier message removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _QUOTE_STARTS):
            break
        # "On Mon, 1 Dec 2026 at 10:00, Someone <a@b>" wrapped before "wrote:".
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if re.match(r"^\s*On\b", line, re.I) and re.match(r"^.*\bwrote:\s*$", following, re.I):
            break
        if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1:i + 4]):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


class _HtmlText(HTMLParser):
    """Text of an HTML-only reply: block elements become line breaks, quoted blocks are left out."""

    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}
    SKIP = {"blockquote", "style", "script", "head", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts))


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError, KeyError):
        # An unknown charset or a broken transfer encoding: read the bytes as UTF-8, replacing the rest.
        content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    if not isinstance(content, str):
        return ""
    return _html_to_text(content) if part.get_content_type() == "text/html" else content


def _is_automatic(message: EmailMessage, envelope_sender: str) -> bool:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        auto not in ("", "no")
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or message.get("X-Autoreply") is not None
        or message.get("List-Id") is not None
        or not (envelope_sender or "").strip("<> ")
    )


def parse(raw: bytes, envelope_sender: str = "") -> Inbound:
    """The parts of ``raw`` that matter. :raises UnreadableEmail: no sender address, or unreadable."""
    try:
        message = message_from_bytes(raw, policy=policy.default)
        if message.defects and not message.keys():
            raise UnreadableEmail("no headers")
        pairs = getaddresses([str(v) for v in message.get_all("From", [])])
        senders = [addr.strip().lower() for _name, addr in pairs if "@" in (addr or "")]
        if len(senders) != 1:
            raise UnreadableEmail("From: must name one address")
        message_id = str(message.get("Message-ID", "") or "").strip()
        digest = hashlib.sha256(message_id.encode() if message_id else raw).hexdigest()
        body_part = message.get_body(preferencelist=("plain", "html"))
        body = strip_quoted(_text_of(body_part)) if body_part is not None else ""
        attachments = []
        for part in message.iter_attachments():
            name = part.get_filename()
            if not name or part.is_multipart():
                continue
            attachments.append((name, part.get_payload(decode=True) or b""))
        return Inbound(
            digest=digest,
            sender=senders[0],
            body=body,
            attachments=attachments,
            automatic=_is_automatic(message, envelope_sender),
        )
    except UnreadableEmail:
        raise
    except Exception as exc:  # noqa: BLE001 - any fault of a hostile email means "cannot read it", never a crash
        raise UnreadableEmail(f"{type(exc).__name__}: {exc}") from exc


# --- adding it to the ticket ------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    # A known sender told why it was not added (closed ticket, attachment refused, empty...).
    RETURNED = "returned"
    UNKNOWN_SENDER = "unknown_sender"
    NO_TICKET = "no_ticket"
    UNREADABLE = "unreadable"

    @property
    def smtp_answer(self) -> str:
        if self in (Outcome.ADDED, Outcome.DUPLICATE, Outcome.RETURNED):
            return "250 2.0.0 Message accepted"
        if self == Outcome.UNREADABLE:
            return "550 5.6.0 Message could not be read"
        if self == Outcome.NO_TICKET:
            return "550 5.1.1 No such recipient"
        return "550 5.7.1 Message refused"


def _sender_user(ticket: Ticket, address: str) -> User | None:
    """The user behind ``address`` if they are on the ticket (requester, an organization user who wrote on
    it, or active staff); None otherwise."""
    # Staff have no organization, so the ticket's tenant scope would hide them; the query names one address.
    with unscoped("incoming mail: the sender may be staff or any customer"):
        user = db.session.scalar(select(User).where(func.lower(User.email) == address))
    if user is None or not user.is_active:
        return None
    if str(user.role) in STAFF_ROLES:
        return user
    if user.organization_id != ticket.organization_id:
        return None
    if user.id == ticket.requester_id:
        return user
    wrote = db.session.scalar(
        select(TicketMessage.id)
        .where(TicketMessage.ticket_id == ticket.id, TicketMessage.author_id == user.id)
        .limit(1)
    )
    return user if wrote is not None else None


def receive(raw: bytes, recipient: str, envelope_sender: str = "") -> Outcome:
    """Add the email ``raw`` sent to ``recipient`` (a reply address) to its ticket.

    Writes the message, the audit events and any automatic reply, then flushes; the caller commits.
    Nothing is raised for bad input: the outcome says what happened (and which SMTP answer to give).
    """
    ticket_id = ticket_id_from_address(recipient)
    if ticket_id is None:
        log.info("mail-in: refused %r: not a reply address (or a forged one)", recipient)
        return Outcome.NO_TICKET
    try:
        inbound = parse(raw, envelope_sender)
    except UnreadableEmail as exc:
        log.info("mail-in: unreadable email for ticket %s: %s", ticket_id, exc)
        return Outcome.UNREADABLE
    # The reply address names the ticket before anyone knows its organization.
    with unscoped("incoming mail arrives outside any request"):
        ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        log.info("mail-in: ticket %s no longer exists", ticket_id)
        return Outcome.NO_TICKET
    with tenant_scope(ticket.organization_id):
        return _receive_for(ticket, inbound)


def _receive_for(ticket: Ticket, inbound: Inbound) -> Outcome:
    known = db.session.scalar(
        select(TicketMessage.id).where(
            TicketMessage.ticket_id == ticket.id, TicketMessage.email_digest == inbound.digest
        )
    )
    if known is not None:
        return Outcome.DUPLICATE
    sender = _sender_user(ticket, inbound.sender)
    if sender is None:
        audit.record("ticket.mail_in_refused", target=ticket, actor=None, reason="unknown_sender",
                     sender=inbound.sender[:254])
        log.info("mail-in: ticket %s: refused sender %s", ticket.id, inbound.sender)
        return Outcome.UNKNOWN_SENDER
    problems, checked = _check_attachments(inbound.attachments)
    body = inbound.body or (_("(本文なし・添付ファイルのみ)") if checked else "")
    if not problems and not body:
        problems = [_("返信の本文が空でした(引用部分は取り除かれます)。")]
    if len(body) > BODY_MAX:
        problems.append(_("本文は%(max)d文字以内でお送りください。", max=BODY_MAX))
    if problems:
        return _return_to_sender(ticket, sender, inbound, problems)
    try:
        with db.session.begin_nested():
            if str(sender.role) in STAFF_ROLES:
                message = services.staff_reply(ticket, sender, body, checked, email_digest=inbound.digest)
            else:
                message = services.customer_reply(ticket, sender, body, checked, email_digest=inbound.digest)
    except services.TicketRuleError as refused:
        return _return_to_sender(ticket, sender, inbound, [str(refused)])
    except IntegrityError:
        # The same email, added by another listener a moment ago.
        return Outcome.DUPLICATE
    audit.record("ticket.mail_in_added", target=ticket, actor=sender, message_id=message.id,
                 attachments=len(checked))
    db.session.flush()
    return Outcome.ADDED


def _check_attachments(attachments: list[tuple[str, bytes]]) -> tuple[list[str], list[files.CheckedFile]]:
    limit = current_app.config["TICKET_ATTACHMENTS_PER_MESSAGE"]
    if len(attachments) > limit:
        return [_("添付ファイルは1回に%(n)d個までです。", n=limit)], []
    problems, checked = [], []
    for name, data in attachments:
        try:
            checked.append(files.check_upload(FileStorage(io.BytesIO(data), filename=name)))
        except files.AttachmentRefused as refused:
            problems.append(str(refused))
    return problems, checked


def _return_to_sender(ticket: Ticket, sender: User, inbound: Inbound, reasons: list[str]) -> Outcome:
    """Tell a known sender why their email was not added (never an automatic message: no loops)."""
    audit.record("ticket.mail_in_refused", target=ticket, actor=sender, reason="returned", problems=reasons)
    if not inbound.automatic and sender.email:
        queue_email(
            "tickets_mail_returned",
            sender.email,
            idempotency_key=f"ticket-{ticket.id}-mail-returned-{inbound.digest}",
            organization_id=ticket.organization_id if str(sender.role) not in STAFF_ROLES else None,
            user_id=sender.id,
            locale=sender.locale,
            ticket=ticket,
            reasons=reasons,
            url=external_url("tickets.show", ticket_id=ticket.id),
            new_url=external_url("tickets.new"),
        )
    db.session.flush()
    return Outcome.RETURNED
