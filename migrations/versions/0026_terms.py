"""the rest of the terms: cure notices (Art. 16-3), the anti-social-forces declaration and screening on
applications (Art. 24), the public list of subcontractors (Art. 6)

Revision ID: 0026_terms
Revises: 0025_inbox
Create Date: 2026-12-16 10:00:00

Applications submitted before this revision have no declaration (``antisocial_declared_at`` NULL); the
operator's screening is recorded on them as on new ones.
"""
import warnings

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026_terms'
down_revision = '0025_inbox'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cure_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('breach', sa.Text(), nullable=False),
    sa.Column('deadline_on', sa.Date(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('cured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cured_by_id', sa.Integer(), nullable=True),
    sa.Column('cure_note', sa.String(length=500), nullable=False),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cured_by_id'], ['users.id'], name=op.f('fk_cure_notices_cured_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_cure_notices_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_cure_notices_sent_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cure_notices'))
    )
    with op.batch_alter_table('cure_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cure_notices_deadline_on'), ['deadline_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_cure_notices_organization_id'), ['organization_id'], unique=False)

    op.create_table('subcontractors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subcontractors'))
    )

    # The batch rebuilds applications only; reflecting the users table it refers to skips the expression
    # index of 0018 (which stays untouched on users).
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Skipped unsupported reflection of expression-based index')
        with op.batch_alter_table('applications', schema=None) as batch_op:
            batch_op.add_column(sa.Column('antisocial_declared_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('screening_result', sa.String(length=16), nullable=True))
            batch_op.add_column(sa.Column('screened_on', sa.Date(), nullable=True))
            batch_op.add_column(sa.Column('screened_by_id', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column('screening_note', sa.Text(), server_default='', nullable=False))
            batch_op.create_foreign_key(batch_op.f('fk_applications_screened_by_id_users'), 'users', ['screened_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Skipped unsupported reflection of expression-based index')
        with op.batch_alter_table('applications', schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f('fk_applications_screened_by_id_users'), type_='foreignkey')
            batch_op.drop_column('screening_note')
            batch_op.drop_column('screened_by_id')
            batch_op.drop_column('screened_on')
            batch_op.drop_column('screening_result')
            batch_op.drop_column('antisocial_declared_at')

    op.drop_table('subcontractors')
    with op.batch_alter_table('cure_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cure_notices_organization_id'))
        batch_op.drop_index(batch_op.f('ix_cure_notices_deadline_on'))

    op.drop_table('cure_notices')
