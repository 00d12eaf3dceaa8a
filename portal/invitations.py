"""Invitations. A service creates the user without a password and calls :func:`send_invitation`; the
invitations area's views accept the link (``portal/blueprints/invitations``)."""

from __future__ import annotations

import hashlib

from flask import current_app

from portal import audit
from portal.extensions import db
from portal.models import User
from portal.outbox import external_url, queue_email
from portal.tenancy import unscoped
from portal.tokens import issue_token

PURPOSE = "invitation"


def send_invitation(
    user: User, invited_by: User | None, organization_name: str, template: str = "invitation", **context
) -> None:
    """Queue an invitation with a fresh single-use link; earlier links of ``user`` stop working.

    ``template`` and ``context`` let a caller (a handover, say) say more around the same link.
    """
    with unscoped("the operator invites into any organization"):
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
