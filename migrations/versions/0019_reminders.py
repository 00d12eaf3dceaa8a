"""reminders that escalate: one learner reminded, managers told of overdue learners, the weekly summary,
emails counted and cancelled by what they belong to (topic)

Revision ID: 0019_reminders
Revises: 0018_learnerids
Create Date: 2026-12-14 10:00:00

Deliveries created before this revision get ``escalate_after_days = 0`` (their managers are not told):
the administrator who created them never chose it, and a long-overdue delivery would otherwise send its
managers an email on the first run of the job. The training emails already queued get their topic
(``delivery:<id>``, the prefix of their idempotency key) so that the delivery page counts them too.
"""
import warnings

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_reminders'
down_revision = '0018_learnerids'
branch_labels = None
depends_on = None

LOGIN_ID_INDEX = 'uq_users_organization_id_lower_login_id'


def upgrade():
    op.create_table('weekly_summaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('week_of', sa.Date(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_weekly_summaries_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weekly_summaries')),
    sa.UniqueConstraint('organization_id', 'week_of', name=op.f('uq_weekly_summaries_organization_id_week_of'))
    )
    op.create_table('delivery_escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=False),
    sa.Column('round_no', sa.Integer(), nullable=False),
    sa.Column('learner_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_delivery_escalations_delivery_id_deliveries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['manager_id'], ['users.id'], name=op.f('fk_delivery_escalations_manager_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_delivery_escalations_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_escalations')),
    sa.UniqueConstraint('delivery_id', 'manager_id', 'round_no', name=op.f('uq_delivery_escalations_delivery_id_manager_id_round_no'))
    )
    with op.batch_alter_table('delivery_escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_escalations_manager_id'), ['manager_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_escalations_organization_id'), ['organization_id'], unique=False)

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalate_after_days', sa.Integer(), server_default='3', nullable=False))
        batch_op.add_column(sa.Column('escalation_rounds', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topic', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_outbox_topic_status', ['topic', 'status'], unique=False)

    # Not in batch mode: on SQLite a batch rebuilds the table and loses the expression index of 0018_learnerids.
    op.add_column('users', sa.Column('wants_weekly_summary', sa.Boolean(), server_default=sa.true(), nullable=False))

    op.execute(sa.text("UPDATE deliveries SET escalate_after_days = 0"))
    _topics_of_training_emails()


def _topics_of_training_emails():
    outbox = sa.table('outbox_messages', sa.column('id', sa.Integer), sa.column('idempotency_key', sa.String),
                      sa.column('topic', sa.String))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(outbox.c.id, outbox.c.idempotency_key).where(outbox.c.idempotency_key.like('delivery:%'))
    ).all()
    updates = [{'row_id': row_id, 'new_topic': ':'.join(key.split(':', 2)[:2])} for row_id, key in rows]
    statement = outbox.update().where(outbox.c.id == sa.bindparam('row_id')).values(topic=sa.bindparam('new_topic'))
    for start in range(0, len(updates), 2000):
        bind.execute(statement, updates[start:start + 2000])


def downgrade():
    # SQLite rebuilds the table for a dropped column (and cannot reflect the expression index of
    # 0018_learnerids, so it is created again after the rebuild).
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Skipped unsupported reflection of expression-based index')
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.drop_column('wants_weekly_summary')
    if op.get_bind().dialect.name == 'sqlite':
        op.create_index(LOGIN_ID_INDEX, 'users', ['organization_id', sa.text('lower(login_id)')], unique=True)

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_topic_status')
        batch_op.drop_column('topic')

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('escalation_rounds')
        batch_op.drop_column('escalate_after_days')

    with op.batch_alter_table('delivery_escalations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_escalations_organization_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_escalations_manager_id'))

    op.drop_table('delivery_escalations')
    op.drop_table('weekly_summaries')
