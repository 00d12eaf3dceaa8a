"""personal links end with the sessions; the TOTP secret being enrolled stays on the server

Revision ID: 0017_link_sessions
Revises: 0016_recovery_code_keys
Create Date: 2026-12-10 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_link_sessions'
down_revision = '0016_recovery_code_keys'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sessions_ended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_pending_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('totp_pending_expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_pending_expires_at')
        batch_op.drop_column('totp_pending_encrypted')
        batch_op.drop_column('sessions_ended_at')
