"""contracts with history: an organization keeps every contract period; each month's seat usage keeps the
limit and unit price in force that month; credit notes (適格返還請求書) correcting issued invoices

Revision ID: 0021_contracts
Revises: 0020_mailin
Create Date: 2026-12-15 10:00:00

The months already recorded get the limit and unit price of their organization's contract (the only one
there was), so their overage stays what it was.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021_contracts'
down_revision = '0020_mailin'
branch_labels = None
depends_on = None


def upgrade():
    # Plain index operations (no batch): the table keeps everything else as it is on SQLite too.
    op.drop_index(op.f('ix_contracts_organization_id'), table_name='contracts')
    op.create_index(op.f('ix_contracts_organization_id'), 'contracts', ['organization_id'], unique=False)

    op.add_column('seat_usage', sa.Column('seat_limit', sa.Integer(), nullable=True))
    op.add_column('seat_usage', sa.Column('overage_unit_price', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE seat_usage SET "
        "seat_limit = (SELECT contracts.seat_limit FROM contracts "
        "WHERE contracts.organization_id = seat_usage.organization_id), "
        "overage_unit_price = (SELECT contracts.overage_unit_price FROM contracts "
        "WHERE contracts.organization_id = seat_usage.organization_id)"
    )

    op.create_table('credit_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('recipient_name', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('tax_rate', sa.Integer(), nullable=False),
    sa.Column('tax_amount', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('issuer_name', sa.String(length=200), nullable=False),
    sa.Column('registration_number', sa.String(length=14), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_credit_notes_amount_positive')),
    sa.CheckConstraint('total > 0', name=op.f('ck_credit_notes_total_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_credit_notes_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_credit_notes_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_credit_notes_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_notes')),
    sa.UniqueConstraint('number', name=op.f('uq_credit_notes_number'))
    )
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_notes_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_notes_organization_id'), ['organization_id'], unique=False)


def downgrade():
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_notes_organization_id'))
        batch_op.drop_index(batch_op.f('ix_credit_notes_invoice_id'))
    op.drop_table('credit_notes')
    with op.batch_alter_table('seat_usage', schema=None) as batch_op:
        batch_op.drop_column('overage_unit_price')
        batch_op.drop_column('seat_limit')
    # Only the latest period of each organization can stay under the one-contract-per-organization index.
    op.execute(
        "DELETE FROM contracts WHERE id NOT IN "
        "(SELECT MAX(c.id) FROM contracts c GROUP BY c.organization_id)"
    )
    op.drop_index(op.f('ix_contracts_organization_id'), table_name='contracts')
    op.create_index(op.f('ix_contracts_organization_id'), 'contracts', ['organization_id'], unique=True)
