"""受講者ID are unique per organization whatever their case (learner01 and LEARNER01 are one person)

Revision ID: 0018_learnerids
Revises: 0017_link_sessions
Create Date: 2026-12-14 10:00:00

An ID stays as the administrator typed it (the learner list, exports and the sign-in page show it so);
a unique index on (organization_id, lower(login_id)) replaces the unique constraint on the ID as typed,
and every look-up compares lower(login_id) (portal/accounts.py: login_id_is).

IDs of one organization that differ only in case may already exist: two people, or one person
registered twice. Which of them keeps the ID (and which one signs in with it) is the customer's
decision, so the migration does not rename or merge anyone: it stops before changing anything and
lists them. Rename or delete one of each pair (the learner's page, 受講者 > 編集), then upgrade again.

SQLAlchemy cannot reflect an index on an expression from SQLite, so Alembic's batch mode does not copy it:
a later migration that rebuilds the users table in batch mode (dropping a column or a constraint) must
create ``uq_users_organization_id_lower_login_id`` again after the batch.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_learnerids'
down_revision = '0017_link_sessions'
branch_labels = None
depends_on = None

INDEX = 'uq_users_organization_id_lower_login_id'


class LearnerIdsDifferOnlyInCase(RuntimeError):
    """Some organization holds IDs that the new rule makes the same; nothing was changed."""


def _same_ids_in_another_case(bind) -> list[tuple]:
    users = sa.table(
        'users', sa.column('id', sa.Integer), sa.column('organization_id', sa.Integer), sa.column('login_id', sa.String)
    )
    organizations = sa.table('organizations', sa.column('id', sa.Integer), sa.column('code', sa.String))
    key = sa.func.lower(users.c.login_id)
    clashes = (
        sa.select(users.c.organization_id, key.label('key'))
        .where(users.c.login_id.is_not(None))
        .group_by(users.c.organization_id, key)
        .having(sa.func.count() > 1)
        .subquery()
    )
    return bind.execute(
        sa.select(users.c.organization_id, organizations.c.code, users.c.id, users.c.login_id)
        .join(clashes, sa.and_(clashes.c.organization_id == users.c.organization_id,
                               clashes.c.key == key))
        .join(organizations, organizations.c.id == users.c.organization_id)
        .order_by(users.c.organization_id, key, users.c.id)
    ).all()


def upgrade():
    clashes = _same_ids_in_another_case(op.get_bind())
    if clashes:
        listed = "\n".join(
            f"  organization {org_id} (/o/{code}): user {user_id} has 受講者ID {login_id!r}"
            for org_id, code, user_id, login_id in clashes
        )
        raise LearnerIdsDifferOnlyInCase(
            "0018_learnerids: 受講者ID are now the same whatever their case, and these organizations hold IDs "
            "that differ only in case:\n"
            f"{listed}\n"
            "Nothing was changed. Rename or delete one of each pair (受講者 > 編集 on the learner's page, "
            "by the organization's administrator), then run `flask db upgrade` again."
        )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_organization_id_login_id', type_='unique')
    op.create_index(INDEX, 'users', ['organization_id', sa.text('lower(login_id)')], unique=True)


def downgrade():
    op.drop_index(INDEX, table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_users_organization_id_login_id', ['organization_id', 'login_id'])
