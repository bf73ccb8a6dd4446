"""request follow-ups: when a running one's run last said it is alive (its lease renewed);
outbox: the breach a notice to a person is about, indexed (filled in from dedupe_key)

Revision ID: 0018
Revises: 0017
Created: 2026-12-08 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The outbox as this revision knows it (not the model, which may change later).
_OUTBOX = sa.table('outbox', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                   sa.column('dedupe_key', sa.String), sa.column('breach_id', sa.String))


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('request_follow_ups') as batch:
        batch.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('breach_id', sa.String(length=32), nullable=True))
        batch.create_index(batch.f('ix_outbox_breach_id'), ['breach_id'], unique=False)
    # A breach's notices queued before: their key is "breach:{breach id}:{subject id}".
    bind = op.get_bind()
    found = bind.execute(sa.select(_OUTBOX.c.id, _OUTBOX.c.dedupe_key).where(
        _OUTBOX.c.kind == 'breach_notice', _OUTBOX.c.dedupe_key.like('breach:%'))).all()
    rows = [{'row': row_id, 'breach': key.split(':')[1]} for row_id, key in found
            if key.count(':') >= 2 and key.split(':')[1]]
    for start in range(0, len(rows), 1000):
        bind.execute(sa.update(_OUTBOX).where(_OUTBOX.c.id == sa.bindparam('row'))
                     .values(breach_id=sa.bindparam('breach')), rows[start:start + 1000])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index(batch.f('ix_outbox_breach_id'))
        batch.drop_column('breach_id')
    with op.batch_alter_table('request_follow_ups') as batch:
        batch.drop_column('heartbeat_at')
