"""What the benchmarks share about their database: ``--postgres`` means the scratch database named by
``PORTAL_TEST_DATABASE_URL``, whose schema each run drops and makes again before ``upgrade()``."""

from __future__ import annotations

import os
import sys

from sqlalchemy import text


def scratch_postgres_url() -> str:
    """``PORTAL_TEST_DATABASE_URL``; exits with a message without it."""
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not url:
        sys.exit("--postgres needs PORTAL_TEST_DATABASE_URL (a scratch database: its schema is dropped)")
    return url


def empty_schema(engine) -> None:
    """On PostgreSQL, drop the public schema with everything in it and make it again (SQLite: nothing)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
