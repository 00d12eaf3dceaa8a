"""the operator's inbox (inbox_items) and the organization's 法人番号

Revision ID: 0025_inbox
Revises: 0024_contact
Create Date: 2026-12-20 10:00:00

Organizations registered before this revision have no 法人番号 (NULL); the operator may add it later.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0025_inbox'
down_revision = '0024_contact'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inbox_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handled_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_inbox_items_handled_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_inbox_items_organization_id_organizations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_items')),
    sa.UniqueConstraint('key', name=op.f('uq_inbox_items_key'))
    )
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_items_open_kind', ['handled_at', 'kind', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbox_items_organization_id'), ['organization_id'], unique=False)

    # A plain ADD COLUMN: a batch rebuild of organizations on SQLite would drop the table every other
    # table points at.
    op.add_column('organizations', sa.Column('corporate_number', sa.String(length=13), nullable=True))


def downgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('corporate_number')

    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_items_organization_id'))
        batch_op.drop_index('ix_inbox_items_open_kind')

    op.drop_table('inbox_items')
