"""retention batches: an index on state, so a sweep's resume check reads only the pending

Revision ID: 0017
Revises: 0016
Created: 2026-12-08 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('retention_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_batches_state'), ['state'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('retention_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_batches_state'))
