"""Single-use, expiring secrets for links sent by email."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from portal.clock import utcnow
from portal.extensions import db
from portal.models import OneTimeToken, User


class TokenInvalid(Exception):
    """The link is unknown, expired or already used (the user is told the same in each case)."""


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(user: User, purpose: str, ttl: timedelta) -> str:
    """Return a new secret for ``user``; earlier unused tokens of the same purpose stop working."""
    now = utcnow()
    db.session.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    raw = secrets.token_urlsafe(32)
    db.session.add(OneTimeToken(user_id=user.id, purpose=purpose, token_hash=_digest(raw), expires_at=now + ttl))
    db.session.flush()
    return raw


def peek_token(raw: str, purpose: str) -> OneTimeToken:
    """The live token for ``raw`` without using it up. :raises TokenInvalid:"""
    if not raw or len(raw) > 200:
        raise TokenInvalid
    token = db.session.scalar(
        select(OneTimeToken).where(OneTimeToken.token_hash == _digest(raw), OneTimeToken.purpose == purpose)
    )
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        raise TokenInvalid
    return token


def consume_token(raw: str, purpose: str) -> User:
    """Use the token up and return its user; a second use, even concurrent, fails. :raises TokenInvalid:"""
    token = peek_token(raw, purpose)
    # A conditional update makes "used once" hold even for two requests racing with the same link.
    result = db.session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.id == token.id, OneTimeToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise TokenInvalid
    return token.user
