"""Alembic environment: run migrations on the connection handed in by personvern.storage."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from personvern.storage.migrate import VERSION_TABLE
from personvern.storage.models import AwareDateTime
from personvern.storage.queue import ours_only


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write AwareDateTime as the plain type, so migrations never import the models."""
    if kind == "type" and isinstance(obj, AwareDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_on(connection: Connection) -> None:
    """Configure Alembic for ``connection`` and run the pending migrations."""
    context.configure(
        connection=connection,
        # Only autogenerate (personvern.schema.new_revision) compares against the models.
        target_metadata=context.config.attributes.get("target_metadata"),
        version_table=VERSION_TABLE,
        compare_type=True,
        render_item=render_item,
        # procrastinate's tables (migration 0014) are its own: autogenerate leaves them be.
        include_name=ours_only,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    # The caller (personvern.storage.migrate.upgrade) holds the transaction and its lock.
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Entry point Alembic calls; only online mode with a given connection is supported."""
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode() or connection is None:
        raise RuntimeError("run migrations through personvern.storage.migrate (personvern db)")
    run_on(connection)


main()
