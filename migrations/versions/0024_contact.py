"""the public contact form: pending contact requests, tickets without an organization from their senders

Revision ID: 0024_contact
Revises: 0023_supportview
Create Date: 2026-12-07 09:00:00

A ticket opened from the public contact form by someone who is no known customer has no organization:
``organization_id`` becomes nullable on tickets and their messages, events and attachments, and the
ticket keeps the sender's name, company and (confirmed) address.
"""
import warnings
from contextlib import contextmanager

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024_contact'
down_revision = '0023_supportview'
branch_labels = None
depends_on = None

CHILD_TABLES = ('ticket_messages', 'ticket_events', 'ticket_attachments')


@contextmanager
def _rebuilt(table):
    """A batch (a rebuild on SQLite) of a ticket table. Reflecting it also reflects ``users`` (its foreign
    keys), whose expression index SQLite cannot reflect: harmless here, ``users`` itself is not rebuilt."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Skipped unsupported reflection of expression-based index')
        with op.batch_alter_table(table, schema=None) as batch_op:
            yield batch_op


def upgrade():
    op.create_table('contact_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('confirm_token_hash', sa.String(length=64), nullable=False),
    sa.Column('confirm_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_requests')),
    sa.UniqueConstraint('confirm_token_hash', name=op.f('uq_contact_requests_confirm_token_hash'))
    )
    with op.batch_alter_table('contact_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_requests_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_requests_confirm_expires_at'), ['confirm_expires_at'],
                              unique=False)

    with _rebuilt('tickets') as batch_op:
        batch_op.add_column(sa.Column('contact_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('contact_company', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), nullable=True))
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=True)
    for table in CHILD_TABLES:
        with _rebuilt(table) as batch_op:
            batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    # Tickets without an organization cannot go back into a table that requires one.
    for table in ('ticket_attachments', 'ticket_events', 'ticket_messages'):
        op.execute(sa.text(f'DELETE FROM {table} WHERE organization_id IS NULL'))
    op.execute(sa.text('DELETE FROM tickets WHERE organization_id IS NULL'))
    for table in CHILD_TABLES:
        with _rebuilt(table) as batch_op:
            batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=False)
    with _rebuilt('tickets') as batch_op:
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('contact_email')
        batch_op.drop_column('contact_company')
        batch_op.drop_column('contact_name')

    with op.batch_alter_table('contact_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_requests_confirm_expires_at'))
        batch_op.drop_index(batch_op.f('ix_contact_requests_email'))
    op.drop_table('contact_requests')
