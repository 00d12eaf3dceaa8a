"""SQLite's query planner statistics, refreshed by the worker every hour and at the end of ``flask demo`` (#17).

Without statistics SQLite chooses among a statement's indexes by their shape alone. Every statement on a tenant
table carries ``organization_id = ?`` (the tenant criteria), and SQLite took that column's index over the row's
own: a learner's sheet read the answers through ``organization_id`` and so scanned every answer of the
organization (0.24 ms for the demo's 2,655, growing with the organization). ``ANALYZE`` records how many rows
each index value selects, and the planner then takes ``response_id``'s. With ``PRAGMA analysis_limit`` it
samples each index instead of reading it whole, so a refresh stays short on a large database.

PostgreSQL's autovacuum keeps its own statistics; nothing is done there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection

from portal.extensions import db
from portal.jobs import periodic

# Rows sampled per index (SQLite's own suggestion is between 100 and 1000).
ANALYSIS_LIMIT = 1000


def refresh(connection: Connection) -> bool:
    """ANALYZE a SQLite database, sampled; True when it ran (False on PostgreSQL)."""
    if connection.dialect.name != "sqlite":
        return False
    connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
    connection.exec_driver_sql("ANALYZE")
    return True


@periodic("database.planner_statistics", every=timedelta(hours=1))
def refresh_planner_statistics(now: datetime) -> None:
    """The worker's hourly refresh: the tables grow every month with each round's sheets and answers."""
    refresh(db.session.connection())
