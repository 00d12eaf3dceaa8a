"""Recovery codes are stored as keyed hashes; the former unkeyed ones are invalidated with a message (#18)."""

from __future__ import annotations

import hashlib
import json

from flask_migrate import upgrade
from sqlalchemy import text

from portal import create_app, mfa
from portal.clock import utcnow
from portal.config import TestConfig
from portal.extensions import db
from portal.models import User
from tests.conftest import PASSWORD, csrf_token_from, login

CODES = ["abcde-fghjk", "mnpqr-stuvw"]


def test_a_stored_hash_is_keyed_and_differs_per_user(app, world, run_in_app):
    def hashes():
        operator, support = db.session.get(User, world["operator"].id), db.session.get(User, world["support"].id)
        return mfa.hash_recovery_code(operator, CODES[0]), mfa.hash_recovery_code(support, CODES[0])

    mine, theirs = run_in_app(hashes)
    assert mine.startswith("hmac-sha256$") and mine != theirs
    assert hashlib.sha256(b"abcdefghjk").hexdigest() not in (mine, theirs)
    # Another key (another installation, or a copy of the database without the key): nothing matches.
    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://", MFA_ENCRYPTION_KEY="another-key")
    with other.app_context():
        assert mfa.hash_recovery_code(User(id=world["operator"].id), CODES[0]) != mine


def test_only_a_well_formed_unused_code_matches(app, world, run_in_app):
    def check():
        user = db.session.get(User, world["operator"].id)
        user.recovery_code_hashes = [mfa.hash_recovery_code(user, c) for c in CODES]
        former = hashlib.sha256(b"zzzzzzzzzz").hexdigest()
        user.recovery_code_hashes.append(former)
        return (mfa.matching_recovery_hash(user, "ABCDE FGHJK") == user.recovery_code_hashes[0],
                mfa.matching_recovery_hash(user, "zzzzz-zzzzz"), mfa.matching_recovery_hash(user, former),
                mfa.matching_recovery_hash(user, "123456"), mfa.matching_recovery_hash(user, ""))

    assert run_in_app(check) == (True, None, None, None, None)


def test_revoked_codes_are_explained_at_sign_in_and_cleared_by_new_codes(world, client, run_in_app):
    def revoke():
        user = db.session.get(User, world["operator"].id)
        user.recovery_code_hashes = []
        user.recovery_codes_revoked_at = utcnow()

    run_in_app(revoke)
    response = login(client, world["operator"].email)
    assert response.status_code == 303
    page = client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "以前の回復コードは、安全のため使えなくしました。" in page
    status = client.get("/account/two-factor").get_data(as_text=True)
    assert "未使用の回復コード: 0個" in status
    assert "「回復コードを作り直す」で新しい回復コードを発行してください" in status

    token = csrf_token_from(status)
    made = client.post("/account/two-factor/recovery-codes", data={"current_password": PASSWORD, "csrf_token": token})
    assert made.status_code == 200
    user = run_in_app(lambda: db.session.get(User, world["operator"].id))
    assert user.recovery_codes_revoked_at is None and len(user.recovery_code_hashes) == 10
    assert "以前の回復コードは" not in client.get("/account/two-factor").get_data(as_text=True)


def test_migration_0016_invalidates_the_former_unkeyed_hashes(tmp_path):
    """On a SQLite database of its own: upgrade to 0014, store former hashes, upgrade to 0016."""
    scratch = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.sqlite3'}")
    former = [hashlib.sha256(b"abcdefghjk").hexdigest()]
    with scratch.app_context():
        upgrade(revision="0014_results_index")
        columns = "role, email, name, session_token, active, must_change_password, failed_logins, locale, created_at"
        with db.engine.begin() as conn:
            for email, hashes in [("old@example.com", former), ("none@example.com", None), ("used@example.com", [])]:
                conn.execute(
                    text(f"INSERT INTO users ({columns}, recovery_code_hashes) VALUES ('operator', :email, 'x', "  # noqa: S608
                         "'t-' || :email, 1, 0, 0, 'ja', '2026-12-01 00:00:00', :hashes)"),
                    {"email": email, "hashes": None if hashes is None else json.dumps(hashes)},
                )
        upgrade(revision="0016_recovery_code_keys")
        with db.engine.connect() as conn:
            found = conn.execute(text("SELECT email, recovery_code_hashes, recovery_codes_revoked_at FROM users"))
            rows = {email: (hashes, revoked) for email, hashes, revoked in found}
        db.engine.dispose()
    assert rows["old@example.com"][0] == "[]" and rows["old@example.com"][1] is not None
    assert rows["none@example.com"] == (None, None)
    assert rows["used@example.com"] == ("[]", None)
