"""organisation left: when a customer organisation left the service (its members and its
own rows erased, seed 003)

Revision ID: 0014
Revises: 0013
Created: 2026-12-07 06:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('organisations') as batch:
        batch.add_column(sa.Column('left_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('organisations') as batch:
        batch.drop_column('left_at')
