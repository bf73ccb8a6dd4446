"""request tasks: http callbacks and manual tasks of a data-subject request

Revision ID: 0009
Revises: 0008
Created: 2026-11-22 04:32:56.789184
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('request_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=32), nullable=False),
    sa.Column('dataset', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('asked', sa.String(length=320), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_request_tasks_request_id_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_tasks')),
    sa.UniqueConstraint('request_id', 'dataset', name=op.f('uq_request_tasks_request_id_dataset'))
    )
    with op.batch_alter_table('request_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_tasks_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_tasks_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_tasks_state'), ['state'], unique=False)



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('request_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_tasks_state'))
        batch_op.drop_index(batch_op.f('ix_request_tasks_request_id'))
        batch_op.drop_index(batch_op.f('ix_request_tasks_next_attempt_at'))

    op.drop_table('request_tasks')
