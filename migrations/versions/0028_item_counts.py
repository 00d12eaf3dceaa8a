"""item analysis from counts: finished attempts by delivery and score (score_counts), their answers by
delivery, question and score (item_counts), kept in step with every finish; filled here from the attempts
already finished

Revision ID: 0028_item_counts
Revises: 0027_item_analysis_index
Create Date: 2026-12-07 16:30:00

The course-wide item analysis read every answer of a year of deliveries (1.68 million at 20,000 learners,
1.1 to 1.3 s on PostgreSQL); from these counts it reads a few thousand rows (#17).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0028_item_counts'
down_revision = '0027_item_analysis_index'
branch_labels = None
depends_on = None


# Both databases spell these alike (tests/test_item_counts.py runs them on each against the counts kept by
# every finish).
FILL_SCORE_COUNTS = (
    "INSERT INTO score_counts (organization_id, delivery_id, score, attempts) "
    "SELECT t.organization_id, s.delivery_id, t.score, count(*) "
    "FROM attempts t JOIN assignments s ON s.id = t.assignment_id "
    "WHERE t.state = 'finished' AND t.score IS NOT NULL "
    "GROUP BY t.organization_id, s.delivery_id, t.score"
)
FILL_ITEM_COUNTS = (
    "INSERT INTO item_counts (organization_id, delivery_id, question_id, score, answered, correct) "
    "SELECT t.organization_id, s.delivery_id, a.question_id, t.score, count(*), "
    "sum(CASE WHEN a.correct THEN 1 ELSE 0 END) "
    "FROM attempt_answers a JOIN attempts t ON t.id = a.attempt_id JOIN assignments s ON s.id = t.assignment_id "
    "WHERE t.state = 'finished' AND t.score IS NOT NULL "
    "GROUP BY t.organization_id, s.delivery_id, a.question_id, t.score"
)


def upgrade():
    op.create_table(
        'score_counts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_score_counts_delivery_id_deliveries'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_score_counts_organization_id_organizations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_score_counts')),
        sa.UniqueConstraint('delivery_id', 'score', name=op.f('uq_score_counts_delivery_id_score')),
    )
    with op.batch_alter_table('score_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_counts_organization_id'), ['organization_id'], unique=False)
    op.create_table(
        'item_counts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('question_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('answered', sa.Integer(), nullable=False),
        sa.Column('correct', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_item_counts_delivery_id_deliveries'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_item_counts_organization_id_organizations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_item_counts_question_id_questions'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_item_counts')),
        sa.UniqueConstraint('delivery_id', 'question_id', 'score', name=op.f('uq_item_counts_delivery_id_question_id_score')),
    )
    with op.batch_alter_table('item_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_counts_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_counts_question_id'), ['question_id'], unique=False)
    # The attempts finished so far.
    op.execute(FILL_SCORE_COUNTS)
    op.execute(FILL_ITEM_COUNTS)


def downgrade():
    with op.batch_alter_table('item_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_counts_question_id'))
        batch_op.drop_index(batch_op.f('ix_item_counts_organization_id'))
    op.drop_table('item_counts')
    with op.batch_alter_table('score_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_counts_organization_id'))
    op.drop_table('score_counts')
