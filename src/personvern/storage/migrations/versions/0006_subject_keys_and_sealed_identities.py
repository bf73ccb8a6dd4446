"""subject keys and sealed identities

Revision ID: 0006
Revises: 0005
Created: 2026-11-22 04:30:52.143120
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('key_rotations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('old_key_id', sa.String(length=16), nullable=False),
    sa.Column('new_key_id', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rewrapped', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_rotations'))
    )
    op.create_table('subject_keys',
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=True),
    sa.Column('master_key_id', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('shredded_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('subject_id', name=op.f('pk_subject_keys'))
    )
    with op.batch_alter_table('subject_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subject_keys_master_key_id'), ['master_key_id'], unique=False)

    with op.batch_alter_table('subject_identities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed', sa.Text(), nullable=True))



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('subject_identities', schema=None) as batch_op:
        batch_op.drop_column('sealed')

    with op.batch_alter_table('subject_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subject_keys_master_key_id'))

    op.drop_table('subject_keys')
    op.drop_table('key_rotations')
