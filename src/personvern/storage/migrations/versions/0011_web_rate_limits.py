"""web rate limits: sign-in attempts counted per key and time bucket, shared by every worker

Revision ID: 0011
Revises: 0010
Created: 2026-12-07 00:57:04.886519
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('web_rate_limits',
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('bucket', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('until', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'key_hash', 'bucket', name=op.f('pk_web_rate_limits'))
    )
    with op.batch_alter_table('web_rate_limits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_rate_limits_until'), ['until'], unique=False)



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('web_rate_limits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_rate_limits_until'))

    op.drop_table('web_rate_limits')
