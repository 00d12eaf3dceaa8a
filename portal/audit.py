"""Writing audit events. Services call :func:`record`; the request commits it with the change.

A refusal that must be on record although the request fails (and rolls back) goes through
:func:`record_denial` instead.
"""

from __future__ import annotations

from flask import has_request_context, request
from flask_login import current_user

from portal import unit_of_work
from portal.extensions import db
from portal.models import AuditEvent

# Keys that must never reach an audit row, whatever a caller passes.
_SECRET_KEYS = {"password", "new_password", "current_password", "token", "csrf_token", "secret"}


def client_ip() -> str | None:
    if not has_request_context():
        return None
    return request.remote_addr


def record(
    action: str,
    *,
    target=None,
    target_type: str | None = None,
    target_id=None,
    organization_id: int | None = None,
    actor=None,
    **details,
) -> AuditEvent:
    """Add an audit event to the session (flushed and committed with the surrounding change).

    ``target`` may be a model instance; its class name and id are recorded. ``organization_id``
    defaults to the target's, then the actor's organization.
    """
    event = _event(action, target, target_type, target_id, organization_id, actor, details)
    db.session.add(event)
    return event


def record_denial(
    action: str,
    *,
    target=None,
    target_type: str | None = None,
    target_id=None,
    organization_id: int | None = None,
    actor=None,
    **details,
) -> AuditEvent:
    """Record a refusal (permission denied, sign-in locked out, wrong code) that must stay on record
    although the request answers 4xx and rolls back: the event is written at the end of the request,
    in a transaction of its own (:func:`portal.unit_of_work.keep`). Same arguments as :func:`record`.
    """
    event = _event(action, target, target_type, target_id, organization_id, actor, details)
    unit_of_work.keep(event)
    return event


def _event(action, target, target_type, target_id, organization_id, actor, details) -> AuditEvent:
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    if target is not None:
        target_type = target_type or type(target).__name__
        target_id = getattr(target, "id", target_id)
        if organization_id is None:
            organization_id = getattr(target, "organization_id", None)
            if organization_id is None and type(target).__name__ == "Organization":
                organization_id = target.id
    if organization_id is None and actor is not None:
        organization_id = getattr(actor, "organization_id", None)
    clean = {k: v for k, v in details.items() if k not in _SECRET_KEYS}
    return AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        organization_id=organization_id,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        ip=client_ip(),
        details=clean,
    )
