"""payments: bank transfers received (assigned to an invoice now or later) and payment reminders (督促)

Revision ID: 0022_payments
Revises: 0021_contracts
Create Date: 2026-12-15 10:00:00

An invoice marked paid before this revision (``paid_at`` set, the one-click "paid") gets one payment of
its total, received on the Tokyo day of ``paid_at``, so that its balance is zero and the amount received
in the last 12 months counts it.
"""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_payments'
down_revision = '0021_contracts'
branch_labels = None
depends_on = None


def upgrade():
    payments = op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('payer_name', sa.String(length=100), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_payments_assigned_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payments_invoice_id_invoices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_payments_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_payments_recorded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_payer_name'), ['payer_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_received_on'), ['received_on'], unique=False)

    op.create_table('invoice_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('balance', sa.Integer(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_reminders_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_invoice_reminders_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_reminders')),
    sa.UniqueConstraint('invoice_id', 'step', name=op.f('uq_invoice_reminders_invoice_id_step'))
    )
    with op.batch_alter_table('invoice_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_reminders_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_reminders_organization_id'), ['organization_id'], unique=False)

    bind = op.get_bind()
    paid = bind.execute(sa.text(
        "SELECT id, organization_id, total, paid_at, created_by_id FROM invoices WHERE paid_at IS NOT NULL AND total > 0"
    )).all()
    tokyo = ZoneInfo("Asia/Tokyo")
    rows = []
    for invoice_id, organization_id, total, paid_at, by in paid:
        if isinstance(paid_at, str):  # SQLite hands back text
            paid_at = datetime.fromisoformat(paid_at)
        moment = paid_at if paid_at.tzinfo else paid_at.replace(tzinfo=UTC)
        rows.append({
            "invoice_id": invoice_id, "organization_id": organization_id, "amount": total,
            "received_on": moment.astimezone(tokyo).date(), "payer_name": "", "note": "入金済み(移行)",
            "recorded_by_id": by, "created_at": moment, "assigned_by_id": by, "assigned_at": moment,
        })
    if rows:
        op.bulk_insert(payments, rows)


def downgrade():
    with op.batch_alter_table('invoice_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_reminders_organization_id'))
        batch_op.drop_index(batch_op.f('ix_invoice_reminders_invoice_id'))
    op.drop_table('invoice_reminders')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_received_on'))
        batch_op.drop_index(batch_op.f('ix_payments_payer_name'))
        batch_op.drop_index(batch_op.f('ix_payments_organization_id'))
        batch_op.drop_index(batch_op.f('ix_payments_invoice_id'))
    op.drop_table('payments')
