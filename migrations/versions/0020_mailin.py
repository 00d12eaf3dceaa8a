"""email into tickets: a reply to a ticket's notification is added to the ticket

Revision ID: 0020_mailin
Revises: 0019_reminders
Create Date: 2026-12-16 10:00:00

``outbox_messages.reply_to`` carries the ticket's reply address into the Reply-To header;
``ticket_messages.email_digest`` (unique per ticket) makes a redelivered email add one message.
Plain add_column and create_index: nullable columns and an index need no batch rebuild on SQLite.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_mailin'
down_revision = '0019_reminders'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('outbox_messages', sa.Column('reply_to', sa.String(length=254), nullable=True))
    op.add_column('ticket_messages', sa.Column('email_digest', sa.String(length=64), nullable=True))
    op.create_index('uq_ticket_messages_ticket_email', 'ticket_messages', ['ticket_id', 'email_digest'],
                    unique=True)


def downgrade():
    op.drop_index('uq_ticket_messages_ticket_email', table_name='ticket_messages')
    with op.batch_alter_table('ticket_messages', schema=None) as batch_op:
        batch_op.drop_column('email_digest')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('reply_to')
