"""The reply address of a ticket: ``<local>+t<ticket id>.<code>@<domain>`` from ``MAIL_IN_ADDRESS``, where the
code is an HMAC of the ticket id under ``SECRET_KEY`` (96 bits), so that it cannot be guessed from the id.
Ticket notifications set it as their Reply-To; mail_in.py reads it back."""

from __future__ import annotations

import hashlib
import hmac
import re

from flask import current_app

_TAG = re.compile(r"^t(\d{1,10})\.([0-9a-f]{24})$")


# --- the reply address ------------------------------------------------------------------------------


def _code(ticket_id: int) -> str:
    key = (current_app.config["SECRET_KEY"] or "").encode()
    return hmac.new(key, f"ticket-reply:{ticket_id}".encode(), hashlib.sha256).hexdigest()[:24]


def reply_address(ticket_id: int) -> str | None:
    """The address a reply to ticket ``ticket_id``'s notifications goes to; None when mail-in is off."""
    base = (current_app.config.get("MAIL_IN_ADDRESS") or "").strip()
    if not base or "@" not in base:
        return None
    local, domain = base.rsplit("@", 1)
    return f"{local}+t{ticket_id}.{_code(ticket_id)}@{domain}"


def ticket_id_from_address(address: str) -> int | None:
    """The ticket a reply address names, or None: not our address, or a code that does not match (forged)."""
    base = (current_app.config.get("MAIL_IN_ADDRESS") or "").strip().lower()
    address = (address or "").strip().strip("<>").lower()
    if not base or "@" not in base or "@" not in address:
        return None
    base_local, base_domain = base.rsplit("@", 1)
    local, domain = address.rsplit("@", 1)
    prefix = base_local + "+"
    if domain != base_domain or not local.startswith(prefix):
        return None
    match = _TAG.match(local[len(prefix):])
    if match is None:
        return None
    ticket_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2), _code(ticket_id)):
        return None
    return ticket_id
