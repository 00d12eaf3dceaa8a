"""Accepting an invitation: the link's user, and the first password. Sending one is :mod:`portal.invitations`."""

from __future__ import annotations

from portal import audit
from portal.clock import utcnow
from portal.extensions import db
from portal.invitations import PURPOSE
from portal.models import User
from portal.passwords import hash_password
from portal.tenancy import unscoped
from portal.tokens import TokenInvalid, consume_token, peek_token


def invitation_target(raw: str) -> User:
    """The user a live invitation link belongs to. :raises TokenInvalid:"""
    with unscoped("an invitation names its user before anyone signs in"):
        user = peek_token(raw, PURPOSE).user
    if not user.is_active:
        raise TokenInvalid
    return user


def accept_invitation(raw: str, new_password: str) -> User:
    """Set the first password through the link, once. :raises TokenInvalid: reused, expired or unknown."""
    with unscoped("an invitation names its user before anyone signs in"):
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
