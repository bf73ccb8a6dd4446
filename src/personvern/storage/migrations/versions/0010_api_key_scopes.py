"""api key scopes: what each key may do; keys from before get admin

Revision ID: 0010
Revises: 0009
Created: 2026-12-07 00:55:38.461248
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=400), nullable=True))
    # Every key could do everything before scopes existed: it keeps that (admin), so no
    # app stops working on upgrade; `personvern keys list` shows which keys to narrow.
    op.execute("UPDATE api_keys SET scopes = 'admin'")
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.alter_column('scopes', existing_type=sa.String(length=400), nullable=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('scopes')
