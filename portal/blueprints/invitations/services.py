"""Invitations. A service creates the user without a password and calls :func:`send_invitation`."""

from __future__ import annotations

import hashlib

from flask import current_app

from portal import audit
from portal.clock import utcnow
from portal.extensions import db
from portal.models import User
from portal.outbox import external_url, queue_email
from portal.passwords import hash_password
from portal.tenancy import unscoped
from portal.tokens import TokenInvalid, consume_token, issue_token, peek_token

PURPOSE = "invitation"


def send_invitation(
    user: User, invited_by: User | None, organization_name: str, template: str = "invitation", **context
) -> None:
    """Queue an invitation with a fresh single-use link; earlier links of ``user`` stop working.

    ``template`` and ``context`` let a caller (a handover, say) say more around the same link.
    """
    with unscoped():
        ttl = current_app.config["INVITATION_TTL"]
        raw = issue_token(user, PURPOSE, ttl)
        queue_email(
            template,
            user.email,
            idempotency_key=f"{template}:{user.id}:{hashlib.sha256(raw.encode()).hexdigest()[:16]}",
            organization_id=user.organization_id,
            user_id=user.id,
            locale=user.locale,
            user=user,
            organization_name=organization_name,
            invited_by=invited_by,
            accept_url=external_url("invitations.accept", token=raw),
            days=max(1, ttl.days),
            **context,
        )
        audit.record("user.invited", target=user, invited_by=getattr(invited_by, "id", None))
        db.session.flush()


def invitation_target(raw: str) -> User:
    """The user a live invitation link belongs to. :raises TokenInvalid:"""
    with unscoped():
        user = peek_token(raw, PURPOSE).user
    if not user.is_active:
        raise TokenInvalid
    return user


def accept_invitation(raw: str, new_password: str) -> User:
    """Set the first password through the link, once. :raises TokenInvalid: reused, expired or unknown."""
    with unscoped():
        user = consume_token(raw, PURPOSE)
        if not user.is_active:
            raise TokenInvalid
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        # A first password: the personal links already sent stay with their mailbox.
        user.end_all_sessions(keep_links=True)
        audit.record("user.invitation_accepted", target=user, actor=user)
        db.session.flush()
    return user
