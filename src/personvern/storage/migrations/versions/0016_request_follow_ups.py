"""request follow-ups: the proof of erasure and the Art. 19 notices, run after the answer

Revision ID: 0016
Revises: 0015
Created: 2026-12-07 11:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('request_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('input', sa.JSON(none_as_null=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_request_follow_ups_request_id_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_follow_ups'))
    )
    with op.batch_alter_table('request_follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_follow_ups_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_follow_ups_state'), ['state'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('request_follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_follow_ups_state'))
        batch_op.drop_index(batch_op.f('ix_request_follow_ups_request_id'))

    op.drop_table('request_follow_ups')
