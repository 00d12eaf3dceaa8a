"""recovery codes: keyed hashes; codes of the former unkeyed kind are invalidated

Revision ID: 0016_recovery_code_keys
Revises: 0015_deletion_requests
Create Date: 2026-12-10 10:00:00

The former hashes (unsalted SHA-256 of 50-bit codes) went out in every data export until #18, so they
must be taken as known: they are removed rather than kept valid until used. ``recovery_codes_revoked_at``
records it, so that the user is told at sign-in and on /account/two-factor to make new codes; their
authenticator app keeps working.
"""
from alembic import op
import sqlalchemy as sa

from portal.clock import utcnow


# revision identifiers, used by Alembic.
revision = '0016_recovery_code_keys'
down_revision = '0015_deletion_requests'
branch_labels = None
depends_on = None

KEYED_PREFIX = "hmac-sha256$"


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recovery_codes_revoked_at', sa.DateTime(timezone=True), nullable=True))

    users = sa.table(
        'users',
        sa.column('id', sa.Integer),
        sa.column('recovery_code_hashes', sa.JSON),
        sa.column('recovery_codes_revoked_at', sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.recovery_code_hashes)).all()
    former = [user_id for user_id, hashes in rows
              if hashes and any(not str(h).startswith(KEYED_PREFIX) for h in hashes)]
    now = utcnow()
    for start in range(0, len(former), 500):
        bind.execute(
            users.update()
            .where(users.c.id.in_(former[start:start + 500]))
            .values(recovery_code_hashes=[], recovery_codes_revoked_at=now)
        )


def downgrade():
    # The removed hashes cannot come back; the users make new codes either way.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('recovery_codes_revoked_at')
