"""job queue: procrastinate's schema on PostgreSQL, so background work runs on workers
of any host sharing the database (docs/scale.md); nothing on SQLite, where serve does it

Revision ID: 0014
Revises: 0013
Created: 2026-12-07 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # The schema of the procrastinate release in the lock (pinned to one minor series in
    # pyproject.toml: a release that changes it needs a revision of ours applying its
    # procrastinate/sql/migrations/ files).
    schema = (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")
    # Several statements and plpgsql bodies: the driver's own cursor, no parameter parsing.
    with bind.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(schema)


def downgrade() -> None:
    """Revert this revision."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs",
                  "procrastinate_workers"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    functions = bind.exec_driver_sql(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = current_schema() "
        "AND left(p.proname, 14) = 'procrastinate_'").scalars().all()
    for signature in functions:
        op.execute(f"DROP FUNCTION IF EXISTS {signature} CASCADE")
    for type_ in ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type",
                  "procrastinate_job_status"):
        op.execute(f"DROP TYPE IF EXISTS {type_} CASCADE")
