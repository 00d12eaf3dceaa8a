"""The inbound SMTP listener for replies to ticket notifications (``flask --app wsgi mail-in``).

It accepts only reply addresses whose code matches (anything else: 550 at RCPT TO, before the message is
sent), refuses emails larger than ``MAIL_IN_MAX_BYTES`` (552), hands each accepted email to
:func:`portal.blueprints.tickets.mail_in.receive` in a thread of its own and commits, like the worker.
A fault of ours answers 451 (the sending server tries again later; the Message-ID keeps it from being
added twice); no email, however malformed, stops the listener.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import click
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from flask import Flask, current_app
from flask.cli import with_appcontext

from portal.blueprints.tickets import mail_in
from portal.blueprints.tickets.reply_address import ticket_id_from_address
from portal.extensions import db

log = logging.getLogger("portal.mail_in")

# One email at a time: the database sees one writer, and two copies of an email arriving together are
# added once (the second finds the first's Message-ID).
MAX_RECIPIENTS = 10


class TicketMailHandler:
    """aiosmtpd's handler: checks the recipients, then receives the email for each of them."""

    def __init__(self, app: Flask):
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-in")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        with self.app.app_context():
            ticket_id = ticket_id_from_address(address)
        if ticket_id is None:
            log.info("mail-in: RCPT %r refused: not a reply address (or a forged one)", address)
            return "550 5.1.1 No such recipient"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, self.deliver, raw, list(envelope.rcpt_tos), envelope.mail_from or ""
        )

    def deliver(self, raw: bytes, recipients: list[str], envelope_sender: str) -> str:
        """Receive ``raw`` for each recipient, committing each; the SMTP answer for the whole."""
        answers = []
        with self.app.app_context():
            for recipient in recipients:
                try:
                    outcome = mail_in.receive(raw, recipient, envelope_sender)
                    db.session.commit()
                    answers.append(outcome.smtp_answer)
                    log.info("mail-in: %s for %s", outcome, recipient)
                except Exception:
                    db.session.rollback()
                    log.exception("mail-in: could not receive an email for %s", recipient)
                    answers.append("451 4.3.0 Temporary failure, please try again later")
                finally:
                    db.session.remove()
        accepted = [a for a in answers if a.startswith("250")]
        # SMTP has one answer for all recipients: a success if any was added, else the first refusal.
        return accepted[0] if accepted else (answers[0] if answers else "554 5.5.1 No valid recipients")


class _Controller(Controller):
    """aiosmtpd's controller with the size limit and without the SMTPUTF8 refusal."""

    def __init__(self, handler, *, hostname: str, port: int, max_bytes: int):
        self.max_bytes = max_bytes
        super().__init__(handler, hostname=hostname, port=port, ready_timeout=10.0)

    def factory(self):
        return SMTP(
            self.handler,
            data_size_limit=self.max_bytes,
            enable_SMTPUTF8=True,
            hostname=self.hostname,
            ident="portal mail-in",
        )


class MailInListener:
    """The listener on ``host:port`` for ``app``, started and stopped by the caller (the command, tests)."""

    def __init__(self, app: Flask, host: str | None = None, port: int | None = None):
        config = app.config
        self.host = host or config["MAIL_IN_HOST"]
        self.port = int(port or config["MAIL_IN_PORT"])
        self.handler = TicketMailHandler(app)
        self.controller = _Controller(
            self.handler, hostname=self.host, port=self.port, max_bytes=int(config["MAIL_IN_MAX_BYTES"])
        )

    def start(self) -> MailInListener:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self.handler.executor.shutdown(wait=True)


@click.command("mail-in")
@click.option("--host", default=None, help="Address to listen on (default: MAIL_IN_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: MAIL_IN_PORT, 8026).")
@with_appcontext
def mail_in_command(host: str | None, port: int | None) -> None:
    """Receive replies to ticket notifications over SMTP until stopped (SIGTERM or Ctrl-C)."""
    app = current_app._get_current_object()
    if not app.config.get("MAIL_IN_ADDRESS"):
        raise click.ClickException("MAIL_IN_ADDRESS (PORTAL_MAIL_IN_ADDRESS) is not set: no reply address to receive.")
    listener = MailInListener(app, host, port).start()
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_args: stopping.set())
    click.echo(f"Mail-in listening on {listener.host}:{listener.port} for replies to "
               f"{app.config['MAIL_IN_ADDRESS']} (+t<ticket>.<code>); SIGTERM or Ctrl-C stops it.")
    try:
        while not stopping.is_set():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
        click.echo("Mail-in stopped.")
