"""Queueing email. ``queue_email`` writes a row; the worker (``flask worker``) sends it after commit."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import OutboxMessage


def external_url(endpoint: str, **values) -> str:
    """An absolute URL under ``BASE_URL``, usable with or without a request (the worker has none)."""
    parts = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def render_email(template: str, locale: str, **context) -> tuple[str, str, str]:
    """Subject, text and HTML of ``templates/email/<template>.*`` in ``locale``."""
    with force_locale(locale):
        subject = render_template(f"email/{template}.subject.txt", **context)
        text = render_template(f"email/{template}.txt", **context)
        html = render_template(f"email/{template}.html", **context)
    return " ".join(subject.split()), text, html


def queue_email(
    template: str,
    to: str,
    *,
    idempotency_key: str,
    organization_id: int | None = None,
    user_id: int | None = None,
    locale: str | None = None,
    **context,
) -> OutboxMessage:
    """Queue one logical email in the current transaction; asking again with the same key is a no-op.

    Nothing is sent until the transaction commits and the worker picks the row up, so a request
    that rolls back sends nothing.
    """
    existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    subject, text, html = render_email(template, locale or current_app.config["BABEL_DEFAULT_LOCALE"], **context)
    message = OutboxMessage(
        idempotency_key=idempotency_key,
        template=template,
        to_address=to.strip(),
        subject=subject,
        body_text=text,
        body_html=html,
        organization_id=organization_id,
        user_id=user_id,
    )
    try:
        # A concurrent request may queue the same key first; the savepoint keeps our transaction.
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:
        existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key))
        if existing is None:
            raise
        return existing
    return message
