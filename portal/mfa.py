"""Two-factor sign-in: TOTP secrets, codes, recovery codes, the enrollment QR code, who must use it (an
organization's policy for its administrators), and the operator's reset of a lost second factor.

Secrets are stored encrypted (Fernet) with ``MFA_ENCRYPTION_KEY`` or, when unset, a key derived from
``SECRET_KEY``; they are never logged or audited. Recovery codes are stored as keyed hashes only
(HMAC-SHA256 of the user's id and the code, with a key derived from the same key material and never
stored in the database): a copy of the table or of an export is no use for guessing codes offline, and
whoever holds the key can decrypt the TOTP secrets anyway, so a slow hash would protect nothing more
(while costing up to ten slow verifications per wrong code). Hashes of the former kind (unsalted SHA-256,
went out in data exports until #18) are invalidated by migration 0015: see ``recovery_codes_revoked_at``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from portal import audit
from portal.clock import epoch_seconds, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import Organization, Role, User
from portal.outbox import external_url, queue_email
from portal.tenancy import unscoped

RECOVERY_CODE_COUNT = 10
STEP_SECONDS = 30
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _fernet() -> Fernet:
    key = current_app.config.get("MFA_ENCRYPTION_KEY")
    if not key:
        digest = hashlib.sha256(b"portal-mfa-secret:" + current_app.config["SECRET_KEY"].encode()).digest()
        key = base64.urlsafe_b64encode(digest)
    return Fernet(key)


def new_secret() -> str:
    return pyotp.random_base32()


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode("ascii")).decode("ascii")


def decrypt_secret(stored: str) -> str | None:
    try:
        return _fernet().decrypt(stored.encode("ascii")).decode("ascii")
    except (InvalidToken, ValueError):
        return None


def normalize_code(code: str | None) -> str:
    return "".join(ch for ch in (code or "") if not ch.isspace() and ch != "-").lower()


def matching_step(secret: str, code: str, *, now: float | None = None, after: int | None = None) -> int | None:
    """The time step (±1 for clock drift) at which ``code`` is valid and newer than ``after``, or None."""
    code = normalize_code(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((utcnow().timestamp() if now is None else now) // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def provisioning_uri(secret: str, user: User) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.email or user.login_id or str(user.id), issuer_name=current_app.config["MFA_ISSUER"]
    )


def qr_data_uri(uri: str) -> str:
    """The QR code as an SVG data URI for ``<img src>`` (allowed by the CSP's ``img-src data:``)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


RECOVERY_HASH_PREFIX = "hmac-sha256$"


def _recovery_key() -> bytes:
    material = current_app.config.get("MFA_ENCRYPTION_KEY") or current_app.config["SECRET_KEY"]
    return hmac.new(material.encode(), b"portal-recovery-codes-v1", hashlib.sha256).digest()


def hash_recovery_code(user: User, code: str) -> str:
    """The stored form of one of ``user``'s recovery codes: keyed, and different for every user."""
    message = f"{user.id}:{normalize_code(code)}".encode("utf-8", "surrogatepass")
    return RECOVERY_HASH_PREFIX + hmac.new(_recovery_key(), message, hashlib.sha256).hexdigest()


def matching_recovery_hash(user: User, code: str) -> str | None:
    """The stored hash that ``code`` matches among ``user``'s unused recovery codes, or None."""
    if not looks_like_recovery_code(code):
        return None
    candidate = hash_recovery_code(user, code)
    found = None
    for stored in user.recovery_code_hashes or []:
        if hmac.compare_digest(stored, candidate):
            found = stored
    return found


def looks_like_recovery_code(code: str | None) -> bool:
    normalized = normalize_code(code)
    return len(normalized) == 10 and all(ch in _RECOVERY_ALPHABET for ch in normalized)


def mfa_required(user: User) -> bool:
    """Staff always; an organization's administrators when their organization says so; anyone whose lost
    second factor the operator has reset, until they enroll again."""
    if user.mfa_reset_at is not None:
        return True
    if user.role in (Role.OPERATOR, Role.SUPPORT):
        return True
    return user.role == Role.ORG_ADMIN and user.organization is not None and user.organization.admins_require_mfa


# --- an organization's policy, and a lost second factor --------------------------------------------


def set_admin_mfa_policy(organization: Organization, required: bool) -> None:
    """Whether ``organization``'s administrators must use two-factor sign-in."""
    if organization.admins_require_mfa == required:
        return
    organization.admins_require_mfa = required
    audit.record("org.mfa_policy_changed", target=organization, required=required)
    db.session.flush()


class MfaResetRefused(Exception):
    """The operator may not reset this second factor (their own, or none is set up)."""


def reset_mfa_by_staff(user: User, *, by: User, reason: str) -> None:
    """The operator turns off the second factor of a user who lost it (phone and recovery codes).

    Every session of the user ends, they must enroll again at their next sign-in
    (``mfa_reset_at``), they are told by email, and the reset is audited with the operator's reason.
    :raises MfaResetRefused: the operator's own account (another operator must do it), or no second factor.
    """
    if user.id == by.id:
        raise MfaResetRefused(_l("自分の2段階認証はリセットできません。別の運営担当者に依頼してください。"))
    if not user.mfa_enabled:
        raise MfaResetRefused(_l("この利用者は2段階認証を設定していません。"))
    with unscoped("the operator resets any organization's user"):
        user.totp_secret_encrypted = None
        user.totp_last_step = None
        user.mfa_enabled_at = None
        user.recovery_code_hashes = None
        user.recovery_codes_revoked_at = None
        user.mfa_reset_at = utcnow()
        user.end_all_sessions()
        audit.record("auth.mfa_reset_by_staff", target=user, actor=by, reason=reason.strip()[:200])
        if user.email:
            queue_email(
                "mfa_reset",
                user.email,
                idempotency_key=f"mfa_reset:{user.id}:{epoch_seconds()}",
                organization_id=user.organization_id,
                user_id=user.id,
                locale=user.locale,
                user=user,
                login_url=external_url("auth.login"),
            )
        db.session.flush()
