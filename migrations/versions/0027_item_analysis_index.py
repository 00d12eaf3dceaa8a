"""item analysis: a covering index on attempt_answers (attempt, organization, question, correct)

Revision ID: 0027_item_analysis_index
Revises: 0026_terms
Create Date: 2026-12-07 06:00:00

PostgreSQL answers the item analysis of a delivery (per question: how many answered, the share right) from
this index alone, an index-only scan per attempt, instead of reading the whole attempt_answers table.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0027_item_analysis_index'
down_revision = '0026_terms'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attempt_answers', schema=None) as batch_op:
        batch_op.create_index(
            'ix_attempt_answers_item_analysis',
            ['attempt_id', 'organization_id', 'question_id', 'correct'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('attempt_answers', schema=None) as batch_op:
        batch_op.drop_index('ix_attempt_answers_item_analysis')
