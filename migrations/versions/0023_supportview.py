"""notices can be corrected or withdrawn, with their history (notice_revisions)

Revision ID: 0023_supportview
Revises: 0022_payments
Create Date: 2026-12-15 10:00:00

A withdrawn notice keeps its row (``withdrawn_at``) so the operator still sees it and its history; the
customers no longer do. The maintenance cache of other processes compares the newest notice and the newest
revision (portal/notices.py), so this revision needs no version table.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023_supportview'
down_revision = '0022_payments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notice_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('renotified', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_notice_revisions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_revisions_notice_id_notices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_revisions'))
    )
    with op.batch_alter_table('notice_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_revisions_notice_id'), ['notice_id'], unique=False)

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')

    with op.batch_alter_table('notice_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_revisions_notice_id'))

    op.drop_table('notice_revisions')
