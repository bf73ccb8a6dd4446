"""Initial tables: manifest versions and the hash-chained audit trail.

Revision ID: 0001
Revises:
Created: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create manifest_versions and audit_events."""
    op.create_table(
        "manifest_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifest_versions")),
        sa.UniqueConstraint("sha256", name=op.f("uq_manifest_versions_sha256")),
    )
    op.create_index(
        op.f("ix_manifest_versions_loaded_at"), "manifest_versions", ["loaded_at"], unique=False
    )

    op.create_table(
        "audit_events",
        # Assigned by the application (previous + 1) so the id is covered by the hash.
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_events_prev_hash")),
    )
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"], unique=False)
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"], unique=False)
    op.create_index(
        op.f("ix_audit_events_target_id"), "audit_events", ["target", "id"], unique=False
    )


def downgrade() -> None:
    """Drop both tables (and with them the audit trail)."""
    op.drop_table("audit_events")
    op.drop_table("manifest_versions")
