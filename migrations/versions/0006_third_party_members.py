"""learners belong to approved third parties only

Revision ID: 0006_third_party_members
Revises: 0005_mail
Create Date: 2026-11-25 14:02:07.474332

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_third_party_members'
down_revision = '0005_mail'
branch_labels = None
depends_on = None


def upgrade():
    # A plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): no table copy, so nothing that references
    # users is touched. Membership of a third party now lives in third_party_members alone.
    op.execute("ALTER TABLE users DROP COLUMN third_party_affiliation")


def downgrade():
    op.add_column('users', sa.Column('third_party_affiliation', sa.VARCHAR(length=200), nullable=True))
