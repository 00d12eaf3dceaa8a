"""results pages: a covering index on assignments (organization, delivery, status, department)

Revision ID: 0014_results_index
Revises: 0013_mfa_reset
Create Date: 2026-11-25 16:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014_results_index'
down_revision = '0013_mfa_reset'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(
            'ix_assignments_org_delivery_status',
            ['organization_id', 'delivery_id', 'status', 'department_id'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_assignments_org_delivery_status')
